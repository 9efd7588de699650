// A stand-in TensorRT runtime library for tests without TensorRT or a GPU, compiled by
// tests/trt/trt_mock.rs against NVIDIA's real headers (11.4, TensorRT-RTX 1.4 and 1.7; 10.16 from a
// mirror when given: 10.0 and 10.16). Its objects derive from the headers' own classes, so the C++ compiler lays
// out every vtable and passes every argument exactly as TensorRT does: the Rust binding's calls
// (slots, mImpl, Weights and Dims by value, bool results, deleting destructors) and its ILogger
// (called here through the headers' ILogger class) are exercised for real.
//
// `mock_stubs.h` is generated at test time from the headers: classes StubV* overriding every pure
// virtual method of apiv::V* with an empty body; the classes below override the ones trt-dump
// calls.
//
// Behaviour is driven by the plan bytes: "MOCK-INCOMPATIBLE" makes deserialization fail with a
// logged error, "MOCK-NOT-REFITTABLE" gives a non-refittable engine. The serialized engine holds
// the weights' raw bytes (see EngineImpl::image), so `dump` can extract them. A weight buffer whose first
// byte is 0xEE is refused by setNamedWeights. `mock_events()` returns what happened, one line each.
#include <NvInferRuntime.h>

#include "mock_stubs.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#ifndef MOCK_VERSION
#error "compile with -DMOCK_VERSION=<getInferLibVersion value>"
#endif

#if NV_TENSORRT_MAJOR >= 11 || (NV_TENSORRT_MAJOR == 1 && NV_TENSORRT_MINOR >= 5)
#define MOCK_VERSIONED_LOGGER 1
#else
#define MOCK_VERSIONED_LOGGER 0
#endif

using namespace nvinfer1;
using Severity = ILogger::Severity;

namespace
{
std::mutex gMutex;
std::string gEvents;
std::string gEventsCopy;

void event(std::string const& e)
{
    std::lock_guard<std::mutex> lock(gMutex);
    gEvents += e;
    gEvents += '\n';
}

std::size_t bytesFor(DataType t, int64_t count)
{
    switch (t)
    {
    case DataType::kFLOAT:
    case DataType::kINT32: return 4 * count;
    case DataType::kHALF:
    case DataType::kBF16: return 2 * count;
    case DataType::kINT64: return 8 * count;
    case DataType::kINT4: return (count + 1) / 2;
    default: return count;
    }
}

struct WeightInfo
{
    char const* name;
    DataType type;
    int64_t count;
};
constexpr WeightInfo kWeights[] = {
    {"w.float", DataType::kFLOAT, 4},
    {"w.half", DataType::kHALF, 3},
    {"w.int4", DataType::kINT4, 5},
};
constexpr int32_t kNbWeights = 3;

WeightInfo const* findWeight(char const* name)
{
    for (auto const& w : kWeights)
    {
        if (name != nullptr && std::strcmp(w.name, name) == 0)
        {
            return &w;
        }
    }
    return nullptr;
}

// The weights an engine holds before any refit: w.float = [0.5, -1.25, 3, 42] (f32 LE),
// w.half = [1, -2, 0.5] (f16 LE), w.int4 = [1, 2, 3, 4, 5] (two per byte, low nibble first).
std::map<std::string, std::vector<uint8_t>> originalWeights()
{
    return {
        {"w.float", {0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0xa0, 0xbf, 0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0x28, 0x42}},
        {"w.half", {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38}},
        {"w.int4", {0x21, 0x43, 0x05}},
    };
}

// ---- IHostMemory ----
struct HostMemoryImpl : apiv::StubVHostMemory
{
    std::vector<uint8_t> bytes;
    void* data() const noexcept override
    {
        return const_cast<uint8_t*>(bytes.data());
    }
    std::size_t size() const noexcept override
    {
        return bytes.size();
    }
    DataType type() const noexcept override
    {
        return DataType::kUINT8;
    }
};

struct PublicHostMemory : IHostMemory
{
    HostMemoryImpl impl;
    explicit PublicHostMemory(std::vector<uint8_t> b)
    {
        impl.bytes = std::move(b);
        mImpl = &impl;
    }
    ~PublicHostMemory() noexcept override
    {
        event("delete IHostMemory");
    }
};

// ---- ISerializationConfig ----
struct SerializationConfigImpl : apiv::StubVSerializationConfig
{
    SerializationFlags flags{0};
    bool setFlags(SerializationFlags f) noexcept override
    {
        flags = f;
        return true;
    }
    SerializationFlags getFlags() const noexcept override
    {
        return flags;
    }
    bool clearFlag(SerializationFlag f) noexcept override
    {
        flags &= ~(1U << static_cast<int32_t>(f));
        return true;
    }
    bool setFlag(SerializationFlag f) noexcept override
    {
        flags |= 1U << static_cast<int32_t>(f);
        return true;
    }
    bool getFlag(SerializationFlag f) const noexcept override
    {
        return (flags >> static_cast<int32_t>(f)) & 1U;
    }
};

struct PublicSerializationConfig : ISerializationConfig
{
    SerializationConfigImpl impl;
    PublicSerializationConfig()
    {
        mImpl = &impl;
    }
    ~PublicSerializationConfig() noexcept override
    {
        event("delete ISerializationConfig");
    }
};

// ---- ICudaEngine ----
struct EngineImpl : apiv::StubVCudaEngine
{
    std::vector<uint8_t> plan;
    bool refittable{true};
    int refits{0};
    std::map<std::string, std::vector<uint8_t>> values = originalWeights();

    // The serialized engine: the plan as given, the refit count, then every weight's raw bytes in a
    // fixed order (so an extraction can find them, as in a real plan), then `extra`.
    std::vector<uint8_t> image(std::string const& extra) const
    {
        std::vector<uint8_t> out = plan;
        auto put = [&out](std::string const& s) { out.insert(out.end(), s.begin(), s.end()); };
        put("|refits=" + std::to_string(refits));
        for (auto const& w : kWeights)
        {
            put(std::string("|") + w.name + "=");
            auto const& v = values.at(w.name);
            out.insert(out.end(), v.begin(), v.end());
        }
        put(extra);
        return out;
    }

    int32_t getNbLayers() const noexcept override
    {
        return 3;
    }
    IHostMemory* serialize() const noexcept override
    {
        event("serialize");
        return new PublicHostMemory(image(""));
    }
    bool isRefittable() const noexcept override
    {
        return refittable;
    }
    char const* getName() const noexcept override
    {
        return "mock-engine";
    }
    int32_t getNbOptimizationProfiles() const noexcept override
    {
        return 1;
    }
    Dims getTensorShape(char const* name) const noexcept override
    {
        Dims d{};
        if (std::strcmp(name, "input") == 0)
        {
            d.nbDims = 2;
            d.d[0] = 1;
            d.d[1] = 32;
        }
        else if (std::strcmp(name, "output") == 0)
        {
            d.nbDims = 3;
            d.d[0] = -1;
            d.d[1] = 7;
            d.d[2] = 16;
        }
        else
        {
            d.nbDims = -1;
        }
        return d;
    }
    DataType getTensorDataType(char const* name) const noexcept override
    {
        return std::strcmp(name, "input") == 0 ? DataType::kFLOAT : DataType::kHALF;
    }
    TensorIOMode getTensorIOMode(char const* name) const noexcept override
    {
        return std::strcmp(name, "input") == 0 ? TensorIOMode::kINPUT
            : std::strcmp(name, "output") == 0 ? TensorIOMode::kOUTPUT
                                               : TensorIOMode::kNONE;
    }
    int32_t getNbIOTensors() const noexcept override
    {
        return 2;
    }
    char const* getIOTensorName(int32_t index) const noexcept override
    {
        return index == 0 ? "input" : index == 1 ? "output" : nullptr;
    }
    ISerializationConfig* createSerializationConfig() noexcept override
    {
        return new PublicSerializationConfig();
    }
    IHostMemory* serializeWithConfig(ISerializationConfig& config) const noexcept override
    {
        // Through the public class's inline forwarder, as TensorRT itself would.
        return new PublicHostMemory(image("|flags=" + std::to_string(config.getFlags())));
    }
#if NV_TENSORRT_MAJOR == 10
    // 10.x only (deprecated; gone in 11 and TensorRT-RTX). A distinct value shows which was called.
    std::size_t getDeviceMemorySize() const noexcept override
    {
        return 2048;
    }
#endif
#if NV_TENSORRT_MAJOR != 10 || NV_TENSORRT_MINOR >= 1
    int64_t getDeviceMemorySizeV2() const noexcept override
    {
        return 4096;
    }
#endif
#if NV_TENSORRT_MAJOR != 10 || NV_TENSORRT_MINOR >= 14
    int64_t getEngineStat(EngineStat stat) const noexcept override
    {
        return stat == EngineStat::kTOTAL_WEIGHTS_SIZE ? 1234 : 0;
    }
#endif
};

struct PublicEngine : ICudaEngine
{
    EngineImpl impl;
    PublicEngine()
    {
        mImpl = &impl;
    }
    ~PublicEngine() noexcept override
    {
        event("delete ICudaEngine");
    }
};

// ---- IRefitter ----
struct RefitterImpl : apiv::StubVRefitter
{
    EngineImpl* engine{};
    ILogger* logger{};
    std::map<std::string, std::vector<uint8_t>> pending;
    std::map<std::string, Weights> echoed;

    int32_t getAllWeights(int32_t size, char const** names) noexcept override
    {
        for (int32_t i = 0; i < size && i < kNbWeights && names != nullptr; ++i)
        {
            names[i] = kWeights[i].name;
        }
        return kNbWeights;
    }
    Weights getWeightsPrototype(char const* name) const noexcept override
    {
        WeightInfo const* w = findWeight(name);
        if (w == nullptr)
        {
            logger->log(Severity::kERROR, "mock: no weights of that name");
            return Weights{DataType::kFLOAT, nullptr, -1};
        }
        return Weights{w->type, nullptr, w->count};
    }
    bool setNamedWeights(char const* name, Weights weights) noexcept override
    {
        WeightInfo const* w = findWeight(name);
        if (w == nullptr || weights.type != w->type || weights.count != w->count || weights.values == nullptr)
        {
            logger->log(Severity::kERROR, (std::string("mock: setNamedWeights refused ") + name).c_str());
            return false;
        }
        auto const* p = static_cast<uint8_t const*>(weights.values);
        if (p[0] == 0xEE)
        {
            logger->log(Severity::kERROR, (std::string("mock: values of ") + name + " rejected").c_str());
            return false;
        }
        pending[name].assign(p, p + bytesFor(w->type, w->count));
        echoed[name] = weights;
        return true;
    }
    int32_t getMissingWeights(int32_t size, char const** names) noexcept override
    {
        int32_t n = 0;
        for (auto const& w : kWeights)
        {
            if (pending.count(w.name) == 0)
            {
                if (n < size && names != nullptr)
                {
                    names[n] = w.name;
                }
                ++n;
            }
        }
        return n;
    }
    bool refitCudaEngine() noexcept override
    {
        int32_t missing = getMissingWeights(0, nullptr);
        if (missing != 0)
        {
            logger->log(Severity::kERROR, ("mock: refit with " + std::to_string(missing) + " weights missing").c_str());
            return false;
        }
        engine->values = pending;
        engine->refits += 1;
        pending.clear();
        echoed.clear();
        event("refitCudaEngine");
        return true;
    }
    Weights getNamedWeights(char const* name) const noexcept override
    {
        auto it = echoed.find(name);
        return it == echoed.end() ? Weights{DataType::kFLOAT, nullptr, 0} : it->second;
    }
    bool unsetNamedWeights(char const* name) noexcept override
    {
        echoed.erase(name);
        return pending.erase(name) == 1;
    }
    void setWeightsValidation(bool on) noexcept override
    {
        event(std::string("setWeightsValidation ") + (on ? "1" : "0"));
    }
    bool setMaxThreads(int32_t n) noexcept override
    {
        event("refitter setMaxThreads " + std::string(n > 0 ? "positive" : "non-positive"));
        return n > 0;
    }
};

struct PublicRefitter : IRefitter
{
    RefitterImpl impl;
    PublicRefitter(EngineImpl* engine, ILogger* logger)
    {
        impl.engine = engine;
        impl.logger = logger;
        mImpl = &impl;
    }
    ~PublicRefitter() noexcept override
    {
        event("delete IRefitter");
    }
};

// ---- IRuntime ----
struct RuntimeImpl : apiv::StubVRuntime
{
    ILogger* logger{};
    ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept override
    {
        std::string s(static_cast<char const*>(blob), size);
        char const* tag = MOCK_VERSION / 10000 == 1 ? "vtrt" : "ftrt";
        if (size < 28 || s.compare(0, 4, tag) != 0)
        {
            logger->log(Severity::kERROR, "mock: Serialization assertion magicTagRead == kMAGIC_TAG failed: magic tag does not match");
            return nullptr;
        }
        if (s.find("MOCK-INCOMPATIBLE") != std::string::npos)
        {
            logger->log(Severity::kINTERNAL_ERROR,
                "mock: The engine plan file is not compatible with this version of TensorRT, please rebuild.");
            logger->log(Severity::kERROR, "mock: Engine deserialization failed.");
            return nullptr;
        }
        auto* e = new PublicEngine();
        e->impl.plan.assign(s.begin(), s.end());
        e->impl.refittable = s.find("MOCK-NOT-REFITTABLE") == std::string::npos;
        event("deserializeCudaEngine " + std::to_string(size));
        return e;
    }
    bool setMaxThreads(int32_t) noexcept override
    {
        return true;
    }
};

struct PublicRuntime : IRuntime
{
    RuntimeImpl impl;
    explicit PublicRuntime(ILogger* logger)
    {
        impl.logger = logger;
        mImpl = &impl;
    }
    ~PublicRuntime() noexcept override
    {
        event("delete IRuntime");
    }
};

} // namespace

extern "C" void* createInferRuntime_INTERNAL(void* logger, int32_t version) noexcept
{
    auto* l = static_cast<ILogger*>(logger);
    event("createInferRuntime version=" + std::to_string(version));
#if MOCK_VERSIONED_LOGGER
    InterfaceInfo info = l->getInterfaceInfo();
    event(std::string("logger interface ") + info.kind + " " + std::to_string(info.major) + "."
        + std::to_string(info.minor) + " language=" + std::to_string(static_cast<int32_t>(l->getAPILanguage())));
#endif
    l->log(Severity::kWARNING, "mock: runtime created");
    l->log(Severity::kVERBOSE, "mock: verbose chatter");
    if (version / 10000 != MOCK_VERSION / 10000)
    {
        l->log(Severity::kERROR, "mock: API version mismatch");
        return nullptr;
    }
    if (std::getenv("MOCK_TRT_FAIL_RUNTIME") != nullptr)
    {
        l->log(Severity::kERROR, "mock: CUDA initialization failure with error: 35");
        return nullptr;
    }
    return static_cast<IRuntime*>(new PublicRuntime(l));
}

extern "C" void* createInferRefitter_INTERNAL(void* engine, void* logger, int32_t version) noexcept
{
    event("createInferRefitter version=" + std::to_string(version));
    auto* e = dynamic_cast<PublicEngine*>(static_cast<ICudaEngine*>(engine));
    if (e == nullptr || !e->impl.refittable)
    {
        static_cast<ILogger*>(logger)->log(Severity::kERROR, "mock: engine is not refittable");
        return nullptr;
    }
    return static_cast<IRefitter*>(new PublicRefitter(&e->impl, static_cast<ILogger*>(logger)));
}

extern "C" int32_t getInferLibVersion() noexcept
{
    return MOCK_VERSION;
}

extern "C" int32_t getInferLibBuildVersion() noexcept
{
    return 42;
}

// Events so far, one per line; the copy stays valid until the next call.
extern "C" char const* mock_events() noexcept
{
    std::lock_guard<std::mutex> lock(gMutex);
    gEventsCopy = gEvents;
    return gEventsCopy.c_str();
}
