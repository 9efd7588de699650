// Smoke test of the stand-in library through TensorRT 11.4's real headers: dlopen, the C entry points, and
// every call a weight extractor makes, through the headers' inline forwarders (so through the real vtables).
//
// smoke LIB PLAN VALUES OUT
//   VALUES: the refit values of every weight, concatenated in getAllWeights order (refit dtype bytes).
//   OUT: where the serialization after one refit is written.
// Prints one line per fact; exits non-zero on the first broken expectation.
#include <NvInfer.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace nvinfer1;

namespace
{
class Logger final : public ILogger
{
public:
    std::vector<std::string> errors;
    void log(Severity severity, AsciiChar const* msg) noexcept override
    {
        if (severity <= Severity::kERROR)
        {
            errors.emplace_back(msg);
        }
    }
    std::string last() const
    {
        return errors.empty() ? std::string() : errors.back();
    }
};

std::vector<uint8_t> slurp(char const* path)
{
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

int gFailures = 0;
void expect(bool ok, std::string const& what)
{
    std::printf("%s %s\n", ok ? "ok" : "FAIL", what.c_str());
    if (!ok)
    {
        ++gFailures;
    }
}

size_t bytesFor(DataType t, int64_t count)
{
    switch (t)
    {
    case DataType::kFLOAT:
    case DataType::kINT32: return 4 * count;
    case DataType::kHALF:
    case DataType::kBF16: return 2 * count;
    case DataType::kINT64: return 8 * count;
    case DataType::kINT4:
    case DataType::kFP4: return (count + 1) / 2;
    default: return count;
    }
}
} // namespace

int main(int argc, char** argv)
{
    if (argc != 5)
    {
        std::fprintf(stderr, "usage: smoke LIB PLAN VALUES OUT\n");
        return 2;
    }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr)
    {
        std::fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    using VersionFn = int32_t (*)();
    using RuntimeFn = void* (*) (void*, int32_t);
    using RefitterFn = void* (*) (void*, void*, int32_t);
    auto version = reinterpret_cast<VersionFn>(dlsym(lib, "getInferLibVersion"));
    auto build = reinterpret_cast<VersionFn>(dlsym(lib, "getInferLibBuildVersion"));
    auto createRuntime = reinterpret_cast<RuntimeFn>(dlsym(lib, "createInferRuntime_INTERNAL"));
    auto createRefitter = reinterpret_cast<RefitterFn>(dlsym(lib, "createInferRefitter_INTERNAL"));
    expect(version && build && createRuntime && createRefitter && dlsym(lib, "getPluginRegistry") && dlsym(lib, "getLogger"),
        "entry points exported");
    expect(version() == NV_TENSORRT_VERSION, "getInferLibVersion " + std::to_string(version()));
    expect(build() == NV_TENSORRT_BUILD, "getInferLibBuildVersion " + std::to_string(build()));

    Logger logger;
    bool ok = createRuntime(&logger, 100000 + 1601) == nullptr && logger.last().find("10.x headers") != std::string::npos;
    expect(ok, "another major is refused: " + logger.last());
    auto* runtime = static_cast<IRuntime*>(createRuntime(&logger, NV_TENSORRT_VERSION));
    expect(runtime != nullptr && runtime->getLogger() == &logger, "createInferRuntime");
    int32_t nbCreators = -1;
    runtime->getPluginRegistry().getAllCreators(&nbCreators);
    expect(nbCreators == 0, "plugin registry");

    std::vector<uint8_t> plan = slurp(argv[2]);
    std::vector<uint8_t> bad = plan;
    bad[25] ^= 1;
    ok = runtime->deserializeCudaEngine(bad.data(), bad.size()) == nullptr
        && logger.last().find("not compatible with this version") != std::string::npos;
    expect(ok, "a plan of another version is refused: " + logger.last());
    ICudaEngine* engine = runtime->deserializeCudaEngine(plan.data(), plan.size());
    expect(engine != nullptr, "deserializeCudaEngine " + std::to_string(plan.size()) + " bytes");
    if (engine == nullptr)
    {
        std::printf("error: %s\n", logger.last().c_str());
        return 1;
    }
    expect(engine->isRefittable(), "isRefittable");
    expect(engine->getNbIOTensors() == 2 && std::strcmp(engine->getIOTensorName(0), "input") == 0
            && engine->getTensorIOMode("output") == TensorIOMode::kOUTPUT && engine->getTensorShape("input").nbDims == 2,
        "I/O tensors");
    std::printf("name %s layers %d total-weights %lld stripped %lld\n", engine->getName(), engine->getNbLayers(),
        static_cast<long long>(engine->getEngineStat(EngineStat::kTOTAL_WEIGHTS_SIZE)),
        static_cast<long long>(engine->getEngineStat(EngineStat::kSTRIPPED_WEIGHTS_SIZE)));

    IHostMemory* fresh = engine->serialize();
    expect(fresh != nullptr && fresh->type() == DataType::kUINT8, "serialize");
    std::printf("fresh-length %zu equal-to-file %d\n", fresh->size(),
        fresh->size() == plan.size() && std::memcmp(fresh->data(), plan.data(), plan.size()) == 0);
    delete fresh;

    auto* refitter = static_cast<IRefitter*>(createRefitter(engine, &logger, NV_TENSORRT_VERSION));
    if (refitter == nullptr)
    {
        std::printf("no-refitter %s\n", logger.last().c_str());
        delete engine;
        delete runtime;
        return 3;
    }
    expect(refitter->getLogger() == &logger, "createInferRefitter");
    expect(refitter->getWeightsValidation(), "validation on by default");
    refitter->setWeightsValidation(false);
    expect(refitter->setMaxThreads(4) && refitter->getMaxThreads() == 4, "setMaxThreads");
    int32_t const n = refitter->getAllWeights(0, nullptr);
    std::vector<char const*> names(static_cast<size_t>(n));
    expect(refitter->getAllWeights(n, names.data()) == n, "getAllWeights " + std::to_string(n));
    expect(refitter->getMissingWeights(0, nullptr) == n, "all missing before setting");

    std::vector<uint8_t> values = slurp(argv[3]);
    size_t at = 0;
    std::vector<Weights> protos;
    for (int32_t i = 0; i < n; ++i)
    {
        Weights p = refitter->getWeightsPrototype(names[i]);
        protos.push_back(p);
        std::printf("weight %s %d %lld\n", names[i], static_cast<int32_t>(p.type), static_cast<long long>(p.count));
        at += bytesFor(p.type, p.count);
    }
    expect(at == values.size(), "values file matches the prototypes");
    expect(refitter->getWeightsPrototype("no such weight").count == -1, "unknown prototype has count -1");
    logger.errors.clear();
    ok = !refitter->setNamedWeights("no such weight", Weights{DataType::kFLOAT, values.data(), 1})
        && logger.last().find("no such weight") != std::string::npos;
    expect(ok, "unknown name refused: " + logger.last());
    if (n > 0)
    {
        Weights w = protos[0];
        w.values = values.data();
        w.count += 1;
        logger.errors.clear();
        ok = !refitter->setNamedWeights(names[0], w) && logger.last().find(names[0]) != std::string::npos;
        expect(ok, "wrong count refused: " + logger.last());
        logger.errors.clear();
        ok = !refitter->refitCudaEngine() && logger.last().find("missing") != std::string::npos;
        expect(ok, "refit with missing weights refused: " + logger.last());
    }
    at = 0;
    for (int32_t i = 0; i < n; ++i)
    {
        Weights w = protos[static_cast<size_t>(i)];
        w.values = values.data() + at;
        at += bytesFor(w.type, w.count);
        if (!refitter->setNamedWeights(names[i], w))
        {
            std::printf("setNamedWeights-failed %s: %s\n", names[i], logger.last().c_str());
        }
    }
    expect(refitter->getMissingWeights(0, nullptr) == 0, "nothing missing");
    bool const refitted = refitter->refitCudaEngine();
    std::printf("refit %d%s%s\n", refitted, refitted ? "" : ": ", refitted ? "" : logger.last().c_str());
    if (refitted)
    {
        IHostMemory* out = engine->serialize();
        expect(out != nullptr, "serialize after refit");
        std::ofstream(argv[4], std::ios::binary).write(static_cast<char const*>(out->data()), static_cast<std::streamsize>(out->size()));
        std::printf("refitted-length %zu\n", out->size());
        delete out;
        expect(refitter->refitCudaEngine(), "a second refit reuses the weights set before");
        ISerializationConfig* config = engine->createSerializationConfig();
        expect(config->setFlag(SerializationFlag::kEXCLUDE_LEAN_RUNTIME) && config->getFlag(SerializationFlag::kEXCLUDE_LEAN_RUNTIME),
            "serialization config");
        IHostMemory* again = engine->serializeWithConfig(*config);
        expect(again != nullptr, "serializeWithConfig");
        delete again;
        delete config;
    }
    delete refitter;
    delete engine;
    delete runtime;
    dlclose(lib);
    std::printf("failures %d\n", gFailures);
    return gFailures == 0 ? 0 : 1;
}
