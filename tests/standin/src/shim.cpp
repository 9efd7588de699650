// A stand-in for TensorRT 11.4's runtime library (test code, not NVIDIA's): objects with TensorRT's real
// object layout, compiled against NVIDIA's real 11.4 headers, with trt-dump's engine simulator behind them
// (src/lib.rs, which also exports the C entry points: a cdylib exports only Rust symbols).
//
// Public objects (IRuntime, ICudaEngine, IRefitter, IHostMemory, ISerializationConfig) are the headers'
// classes with `mImpl` pointing at classes derived from the headers' apiv::V* classes, so the C++ compiler
// lays out every vtable, passes every argument and returns every Weights/Dims exactly as TensorRT does.
// Methods a weight extractor needs do the real thing; every other method returns a neutral value.
#include <NvInfer.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

using namespace nvinfer1;
using Severity = ILogger::Severity;

extern "C"
{
    // Implemented in src/lib.rs.
    struct StandinSim;
    struct StandinBytes;
    StandinSim* standin_sim_open(uint8_t const* data, size_t len, char** err);
    void standin_sim_free(StandinSim* sim);
    int32_t standin_sim_nb_weights(StandinSim const* sim);
    char const* standin_sim_weight_name(StandinSim const* sim, int32_t index);
    int32_t standin_sim_weight_type(StandinSim const* sim, int32_t index);
    int64_t standin_sim_weight_count(StandinSim const* sim, int32_t index);
    int32_t standin_sim_find_weight(StandinSim const* sim, char const* name);
    bool standin_sim_refittable(StandinSim const* sim);
    int32_t standin_sim_nb_layers(StandinSim const* sim);
    int64_t standin_sim_stat(StandinSim const* sim, int32_t which);
    bool standin_sim_check_weight(StandinSim const* sim, int32_t index, int32_t type, int64_t count, char** err);
    bool standin_sim_refit(StandinSim* sim, void const* const* values, bool validate, char** err);
    StandinBytes* standin_sim_serialize(StandinSim* sim, uint8_t const** data, size_t* len, char** err);
    StandinBytes* standin_sim_serialize_with(
        StandinSim* sim, bool includeWeights, uint8_t const** data, size_t* len, char** err);
    bool standin_sim_stripped(StandinSim const* sim);
    void standin_bytes_free(StandinBytes* bytes);
    void standin_string_free(char* s);
}

namespace
{

class StderrLogger final : public ILogger
{
public:
    void log(Severity severity, AsciiChar const* msg) noexcept override
    {
        if (severity <= Severity::kWARNING)
        {
            std::fprintf(stderr, "[trt-dump stand-in] %s\n", msg);
        }
    }
};
StderrLogger gDefaultLogger;

void logTo(ILogger* logger, Severity severity, std::string const& msg)
{
    (logger != nullptr ? logger : &gDefaultLogger)->log(severity, msg.c_str());
}

// Logs and frees an error string from Rust.
void logError(ILogger* logger, char* err)
{
    logTo(logger, Severity::kERROR, err != nullptr ? err : "unknown error");
    standin_string_free(err);
}

// A public interface object whose mImpl is `Impl`; deleting it deletes the implementation, as TensorRT's do.
template <class Pub, class Impl>
class Public final : public Pub
{
public:
    explicit Public(Impl* impl)
    {
        this->mImpl = impl;
    }
    ~Public() noexcept override
    {
        delete static_cast<Impl*>(this->mImpl);
    }
    Impl* impl() const
    {
        return static_cast<Impl*>(this->mImpl);
    }
};

// ---- IHostMemory ----
class HostMemoryImpl final : public apiv::VHostMemory
{
public:
    HostMemoryImpl(StandinBytes* bytes, uint8_t const* data, size_t size)
        : mBytes(bytes)
        , mData(data)
        , mSize(size)
    {
    }
    ~HostMemoryImpl() noexcept override
    {
        standin_bytes_free(mBytes);
    }
    void* data() const noexcept override
    {
        return const_cast<uint8_t*>(mData);
    }
    std::size_t size() const noexcept override
    {
        return mSize;
    }
    DataType type() const noexcept override
    {
        return DataType::kUINT8;
    }

private:
    StandinBytes* mBytes;
    uint8_t const* mData;
    size_t mSize;
};

// ---- ISerializationConfig ----
class SerializationConfigImpl final : public apiv::VSerializationConfig
{
public:
    bool setFlags(SerializationFlags flags) noexcept override
    {
        mFlags = flags;
        return true;
    }
    SerializationFlags getFlags() const noexcept override
    {
        return mFlags;
    }
    bool clearFlag(SerializationFlag flag) noexcept override
    {
        mFlags &= ~(1U << static_cast<int32_t>(flag));
        return true;
    }
    bool setFlag(SerializationFlag flag) noexcept override
    {
        mFlags |= 1U << static_cast<int32_t>(flag);
        return true;
    }
    bool getFlag(SerializationFlag flag) const noexcept override
    {
        return (mFlags & (1U << static_cast<int32_t>(flag))) != 0;
    }

private:
    SerializationFlags mFlags{0};
};

// ---- IPluginRegistry (an interface without mImpl in the headers) ----
class PluginRegistry final : public IPluginRegistry
{
public:
    void setErrorRecorder(IErrorRecorder* const recorder) noexcept override
    {
        mRecorder = recorder;
    }
    IErrorRecorder* getErrorRecorder() const noexcept override
    {
        return mRecorder;
    }
    bool isParentSearchEnabled() const override
    {
        return mParentSearch;
    }
    void setParentSearchEnabled(bool const enabled) override
    {
        mParentSearch = enabled;
    }
    PluginLibraryHandle loadLibrary(AsciiChar const*) noexcept override
    {
        return nullptr;
    }
    void deregisterLibrary(PluginLibraryHandle) noexcept override {}
    bool registerCreator(IPluginCreatorInterface&, AsciiChar const* const) noexcept override
    {
        return true;
    }
    IPluginCreatorInterface* const* getAllCreators(int32_t* const numCreators) const noexcept override
    {
        if (numCreators != nullptr)
        {
            *numCreators = 0;
        }
        return nullptr;
    }
    IPluginCreatorInterface* getCreator(AsciiChar const* const, AsciiChar const* const, AsciiChar const* const) noexcept override
    {
        return nullptr;
    }
    bool deregisterCreator(IPluginCreatorInterface const&) noexcept override
    {
        return false;
    }
    IPluginResource* acquirePluginResource(AsciiChar const*, IPluginResource*) noexcept override
    {
        return nullptr;
    }
    int32_t releasePluginResource(AsciiChar const*) noexcept override
    {
        return -1;
    }
    IPluginCreatorInterface* const* getAllCreatorsRecursive(int32_t* const numCreators) noexcept override
    {
        return getAllCreators(numCreators);
    }

private:
    IErrorRecorder* mRecorder{nullptr};
    bool mParentSearch{true};
};
PluginRegistry gPluginRegistry;

class EngineImpl;
IRefitter* makeRefitter(EngineImpl* engine, ILogger* logger);

constexpr char const* kInput = "input";
constexpr char const* kOutput = "output";

Dims ioDims()
{
    Dims d{};
    d.nbDims = 2;
    d.d[0] = 1;
    d.d[1] = 4;
    return d;
}

bool isIo(char const* name)
{
    return name != nullptr && (std::strcmp(name, kInput) == 0 || std::strcmp(name, kOutput) == 0);
}

// ---- ICudaEngine ----
class EngineImpl final : public apiv::VCudaEngine
{
public:
    EngineImpl(StandinSim* sim, ILogger* logger)
        : mSim(sim)
        , mLogger(logger)
    {
    }
    ~EngineImpl() noexcept override
    {
        standin_sim_free(mSim);
    }
    StandinSim* sim() const
    {
        return mSim;
    }
    ILogger* logger() const
    {
        return mLogger;
    }
    Public<ICudaEngine, EngineImpl>* pub{nullptr};

    ICudaEngine* getPImpl() noexcept override
    {
        return pub;
    }
    int32_t getNbLayers() const noexcept override
    {
        return standin_sim_nb_layers(mSim);
    }
    IHostMemory* serialize() const noexcept override
    {
        return serializeImpl(false);
    }
    IHostMemory* serializeImpl(bool includeWeights) const noexcept
    {
        uint8_t const* data = nullptr;
        size_t len = 0;
        char* err = nullptr;
        StandinBytes* bytes = standin_sim_serialize_with(mSim, includeWeights, &data, &len, &err);
        if (bytes == nullptr)
        {
            logError(mLogger, err);
            return nullptr;
        }
        return new Public<IHostMemory, HostMemoryImpl>(new HostMemoryImpl(bytes, data, len));
    }
    IExecutionContext* createExecutionContext(ExecutionContextAllocationStrategy) noexcept override
    {
        logTo(mLogger, Severity::kERROR, "ICudaEngine::createExecutionContext: the trt-dump stand-in cannot run inference");
        return nullptr;
    }
    bool isRefittable() const noexcept override
    {
        return standin_sim_refittable(mSim);
    }
    char const* getName() const noexcept override
    {
        return "trt-dump-standin-engine";
    }
    int32_t getNbOptimizationProfiles() const noexcept override
    {
        return 1;
    }
    EngineCapability getEngineCapability() const noexcept override
    {
        return EngineCapability::kSTANDARD;
    }
    void setErrorRecorder(IErrorRecorder* recorder) noexcept override
    {
        mRecorder = recorder;
    }
    IErrorRecorder* getErrorRecorder() const noexcept override
    {
        return mRecorder;
    }
    TacticSources getTacticSources() const noexcept override
    {
        return 0;
    }
    ProfilingVerbosity getProfilingVerbosity() const noexcept override
    {
        return ProfilingVerbosity::kLAYER_NAMES_ONLY;
    }
    IEngineInspector* createEngineInspector() const noexcept override
    {
        return nullptr;
    }
    Dims getTensorShape(char const* tensorName) const noexcept override
    {
        if (isIo(tensorName))
        {
            return ioDims();
        }
        Dims d{};
        d.nbDims = -1;
        return d;
    }
    DataType getTensorDataType(char const*) const noexcept override
    {
        return DataType::kFLOAT;
    }
    TensorLocation getTensorLocation(char const*) const noexcept override
    {
        return TensorLocation::kDEVICE;
    }
    bool isShapeInferenceIO(char const*) const noexcept override
    {
        return false;
    }
    TensorIOMode getTensorIOMode(char const* tensorName) const noexcept override
    {
        if (tensorName != nullptr && std::strcmp(tensorName, kInput) == 0)
        {
            return TensorIOMode::kINPUT;
        }
        if (tensorName != nullptr && std::strcmp(tensorName, kOutput) == 0)
        {
            return TensorIOMode::kOUTPUT;
        }
        return TensorIOMode::kNONE;
    }
    int32_t getTensorBytesPerComponent(char const* tensorName) const noexcept override
    {
        return isIo(tensorName) ? 4 : -1;
    }
    int32_t getTensorComponentsPerElement(char const* tensorName) const noexcept override
    {
        return isIo(tensorName) ? 1 : -1;
    }
    TensorFormat getTensorFormat(char const*) const noexcept override
    {
        return TensorFormat::kLINEAR;
    }
    char const* getTensorFormatDesc(char const*) const noexcept override
    {
        return "Row major linear FP32 format (kLINEAR)";
    }
    int32_t getTensorVectorizedDim(char const*) const noexcept override
    {
        return -1;
    }
    Dims getProfileShape(char const* tensorName, int32_t, OptProfileSelector) const noexcept override
    {
        return getTensorShape(tensorName);
    }
    int32_t getNbIOTensors() const noexcept override
    {
        return 2;
    }
    char const* getIOTensorName(int32_t index) const noexcept override
    {
        return index == 0 ? kInput : index == 1 ? kOutput : nullptr;
    }
    HardwareCompatibilityLevel getHardwareCompatibilityLevel() const noexcept override
    {
        return HardwareCompatibilityLevel::kNONE;
    }
    int32_t getNbAuxStreams() const noexcept override
    {
        return 0;
    }
    int32_t getTensorBytesPerComponentV2(char const* tensorName, int32_t) const noexcept override
    {
        return getTensorBytesPerComponent(tensorName);
    }
    int32_t getTensorComponentsPerElementV2(char const* tensorName, int32_t) const noexcept override
    {
        return getTensorComponentsPerElement(tensorName);
    }
    TensorFormat getTensorFormatV2(char const* tensorName, int32_t) const noexcept override
    {
        return getTensorFormat(tensorName);
    }
    char const* getTensorFormatDescV2(char const* tensorName, int32_t) const noexcept override
    {
        return getTensorFormatDesc(tensorName);
    }
    int32_t getTensorVectorizedDimV2(char const* tensorName, int32_t) const noexcept override
    {
        return getTensorVectorizedDim(tensorName);
    }
    // As TensorRT: a weight-stripped engine's default configuration excludes the weights
    // (kEXCLUDE_WEIGHTS set), so a refitted stripped engine saved with it still has none.
    ISerializationConfig* createSerializationConfig() noexcept override
    {
        auto* impl = new SerializationConfigImpl();
        if (standin_sim_stripped(mSim))
        {
            impl->setFlag(SerializationFlag::kEXCLUDE_WEIGHTS);
        }
        return new Public<ISerializationConfig, SerializationConfigImpl>(impl);
    }
    // kEXCLUDE_WEIGHTS cleared: the weights are in. Other flags are accepted and ignored.
    IHostMemory* serializeWithConfig(ISerializationConfig& config) const noexcept override
    {
        return serializeImpl(!config.getFlag(SerializationFlag::kEXCLUDE_WEIGHTS));
    }
    IRefitter* createRefitter(ILogger& logger) noexcept override
    {
        return makeRefitter(this, &logger);
    }
    int64_t getStreamableWeightsSize() const noexcept override
    {
        return 0;
    }
    bool isDebugTensor(char const*) const noexcept override
    {
        return false;
    }
    bool setWeightStreamingBudgetV2(int64_t) noexcept override
    {
        return true;
    }
    int64_t getWeightStreamingBudgetV2() const noexcept override
    {
        return 0;
    }
    int64_t getWeightStreamingAutomaticBudget() const noexcept override
    {
        return 0;
    }
    int64_t getWeightStreamingScratchMemorySize() const noexcept override
    {
        return 0;
    }
    int64_t getDeviceMemorySizeV2() const noexcept override
    {
        return 0;
    }
    int64_t getDeviceMemorySizeForProfileV2(int32_t) const noexcept override
    {
        return 0;
    }
    int64_t const* getProfileTensorValuesV2(char const*, int32_t, OptProfileSelector) const noexcept override
    {
        return nullptr;
    }
    IExecutionContext* createExecutionContextWithRuntimeConfig(IRuntimeConfig*) noexcept override
    {
        return createExecutionContext(ExecutionContextAllocationStrategy::kSTATIC);
    }
    IRuntimeConfig* createRuntimeConfig() noexcept override
    {
        return nullptr;
    }
    int64_t getEngineStat(EngineStat stat) const noexcept override
    {
        return standin_sim_stat(mSim, static_cast<int32_t>(stat));
    }
    char const* getAliasedInputTensor(char const*) const noexcept override
    {
        return nullptr;
    }

private:
    StandinSim* mSim;
    ILogger* mLogger;
    IErrorRecorder* mRecorder{nullptr};
};

// ---- IRefitter ----
// Set weights persist across refits until unset (TensorRT: "There is no need to set the same weights
// repeatedly for multiple refit calls"); their memory is read at each refitCudaEngine.
class RefitterImpl final : public apiv::VRefitter
{
public:
    RefitterImpl(EngineImpl* engine, ILogger* logger)
        : mEngine(engine)
        , mLogger(logger)
    {
    }
    Public<IRefitter, RefitterImpl>* pub{nullptr};

    IRefitter* getPImpl() noexcept override
    {
        return pub;
    }
    bool setWeights(char const* layerName, WeightsRole, Weights const) noexcept override
    {
        logTo(mLogger, Severity::kERROR,
            std::string("IRefitter::setWeights: the trt-dump stand-in refits by weight name only (layer ")
                + (layerName != nullptr ? layerName : "null") + "); use setNamedWeights");
        return false;
    }
    bool refitCudaEngine() noexcept override
    {
        int32_t const n = standin_sim_nb_weights(sim());
        std::vector<void const*> values(static_cast<size_t>(n), nullptr);
        std::string missing;
        int32_t nbMissing = 0;
        for (int32_t i = 0; i < n; ++i)
        {
            auto it = mSet.find(i);
            if (it == mSet.end())
            {
                if (nbMissing < 8)
                {
                    missing += (nbMissing > 0 ? ", " : "") + std::string(standin_sim_weight_name(sim(), i));
                }
                ++nbMissing;
                continue;
            }
            values[static_cast<size_t>(i)] = it->second.values;
        }
        if (nbMissing > 0)
        {
            logTo(mLogger, Severity::kERROR,
                "IRefitter::refitCudaEngine: Error Code 3: API Usage Error (Parameter check failed, condition: "
                "getMissingWeights() == 0. "
                    + std::to_string(nbMissing) + " weights are missing: " + missing + ")");
            return false;
        }
        char* err = nullptr;
        if (!standin_sim_refit(sim(), values.data(), mValidation, &err))
        {
            logError(mLogger, err);
            return false;
        }
        return true;
    }
    int32_t getMissing(int32_t, char const**, WeightsRole*) noexcept override
    {
        return 0;
    }
    int32_t getAll(int32_t, char const**, WeightsRole*) noexcept override
    {
        return 0;
    }
    void setErrorRecorder(IErrorRecorder* recorder) noexcept override
    {
        mRecorder = recorder;
    }
    IErrorRecorder* getErrorRecorder() const noexcept override
    {
        return mRecorder;
    }
    bool setNamedWeights(char const* name, Weights weights) noexcept override
    {
        int32_t const i = name != nullptr ? standin_sim_find_weight(sim(), name) : -1;
        if (i < 0)
        {
            logTo(mLogger, Severity::kERROR,
                std::string("IRefitter::setNamedWeights: Error Code 3: API Usage Error (Parameter check failed, "
                            "condition: weights name \"")
                    + (name != nullptr ? name : "(null)") + "\" is the name of a refittable weight.)");
            return false;
        }
        char* err = nullptr;
        if (!standin_sim_check_weight(sim(), i, static_cast<int32_t>(weights.type), weights.count, &err))
        {
            logError(mLogger, err);
            return false;
        }
        if (weights.values == nullptr && weights.count > 0)
        {
            logTo(mLogger, Severity::kERROR,
                std::string("IRefitter::setNamedWeights: Error Code 3: API Usage Error (weights \"") + name
                    + "\" have no values)");
            return false;
        }
        mSet[i] = weights;
        return true;
    }
    int32_t getMissingWeights(int32_t size, char const** weightsNames) noexcept override
    {
        return list(size, weightsNames, true);
    }
    int32_t getAllWeights(int32_t size, char const** weightsNames) noexcept override
    {
        return list(size, weightsNames, false);
    }
    ILogger* getLogger() const noexcept override
    {
        return mLogger;
    }
    bool setMaxThreads(int32_t maxThreads) noexcept override
    {
        if (maxThreads <= 0)
        {
            return false;
        }
        mMaxThreads = maxThreads;
        return true;
    }
    int32_t getMaxThreads() const noexcept override
    {
        return mMaxThreads;
    }
    bool setNamedWeightsWithLocation(char const* name, Weights weights, TensorLocation location) noexcept override
    {
        if (location != TensorLocation::kHOST)
        {
            logTo(mLogger, Severity::kERROR,
                "IRefitter::setNamedWeightsWithLocation: the trt-dump stand-in has no GPU: weights must be on the host");
            return false;
        }
        return setNamedWeights(name, weights);
    }
    Weights getNamedWeights(char const* weightsName) const noexcept override
    {
        int32_t const i = weightsName != nullptr ? standin_sim_find_weight(sim(), weightsName) : -1;
        if (i >= 0)
        {
            auto it = mSet.find(i);
            if (it != mSet.end())
            {
                return it->second;
            }
        }
        return Weights{DataType::kFLOAT, nullptr, 0};
    }
    TensorLocation getWeightsLocation(char const*) const noexcept override
    {
        return TensorLocation::kHOST;
    }
    bool unsetNamedWeights(char const* weightsName) noexcept override
    {
        int32_t const i = weightsName != nullptr ? standin_sim_find_weight(sim(), weightsName) : -1;
        if (i < 0)
        {
            return false;
        }
        mSet.erase(i);
        return true;
    }
    void setWeightsValidation(bool weightsValidation) noexcept override
    {
        mValidation = weightsValidation;
    }
    bool getWeightsValidation() const noexcept override
    {
        return mValidation;
    }
    bool refitCudaEngineAsync(cudaStream_t) noexcept override
    {
        return refitCudaEngine();
    }
    Weights getWeightsPrototype(char const* weightsName) const noexcept override
    {
        int32_t const i = weightsName != nullptr ? standin_sim_find_weight(sim(), weightsName) : -1;
        if (i < 0)
        {
            return Weights{DataType::kFLOAT, nullptr, -1};
        }
        return Weights{static_cast<DataType>(standin_sim_weight_type(sim(), i)), nullptr, standin_sim_weight_count(sim(), i)};
    }
    bool releaseRefitResources() noexcept override
    {
        return true;
    }

private:
    StandinSim* sim() const
    {
        return mEngine->sim();
    }
    int32_t list(int32_t size, char const** names, bool onlyMissing) const
    {
        int32_t const n = standin_sim_nb_weights(sim());
        int32_t count = 0;
        for (int32_t i = 0; i < n; ++i)
        {
            if (onlyMissing && mSet.count(i) != 0)
            {
                continue;
            }
            if (names != nullptr && count < size)
            {
                names[count] = standin_sim_weight_name(sim(), i);
            }
            ++count;
        }
        return count;
    }

    EngineImpl* mEngine;
    ILogger* mLogger;
    IErrorRecorder* mRecorder{nullptr};
    std::map<int32_t, Weights> mSet;
    bool mValidation{true};
    int32_t mMaxThreads{1};
};

IRefitter* makeRefitter(EngineImpl* engine, ILogger* logger)
{
    if (!standin_sim_refittable(engine->sim()))
    {
        logTo(logger, Severity::kERROR,
            "createInferRefitter: Error Code 3: API Usage Error (Parameter check failed, condition: "
            "engine.isRefittable(). The engine was not built with BuilderFlag::kREFIT)");
        return nullptr;
    }
    auto* impl = new RefitterImpl(engine, logger);
    auto* pub = new Public<IRefitter, RefitterImpl>(impl);
    impl->pub = pub;
    return pub;
}

// ---- IRuntime ----
class RuntimeImpl final : public apiv::VRuntime
{
public:
    explicit RuntimeImpl(ILogger* logger)
        : mLogger(logger)
    {
    }
    Public<IRuntime, RuntimeImpl>* pub{nullptr};

    IRuntime* getPImpl() noexcept override
    {
        return pub;
    }
    ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept override
    {
        char* err = nullptr;
        StandinSim* sim = standin_sim_open(static_cast<uint8_t const*>(blob), blob != nullptr ? size : 0, &err);
        if (sim == nullptr)
        {
            logError(mLogger, err);
            return nullptr;
        }
        auto* impl = new EngineImpl(sim, mLogger);
        auto* engine = new Public<ICudaEngine, EngineImpl>(impl);
        impl->pub = engine;
        return engine;
    }
    void setDLACore(int32_t dlaCore) noexcept override
    {
        mDla = dlaCore;
    }
    int32_t getDLACore() const noexcept override
    {
        return mDla;
    }
    int32_t getNbDLACores() const noexcept override
    {
        return 0;
    }
    void setGpuAllocator(IGpuAllocator*) noexcept override {}
    void setErrorRecorder(IErrorRecorder* recorder) noexcept override
    {
        mRecorder = recorder;
    }
    IErrorRecorder* getErrorRecorder() const noexcept override
    {
        return mRecorder;
    }
    ILogger* getLogger() const noexcept override
    {
        return mLogger;
    }
    bool setMaxThreads(int32_t maxThreads) noexcept override
    {
        if (maxThreads <= 0)
        {
            return false;
        }
        mMaxThreads = maxThreads;
        return true;
    }
    int32_t getMaxThreads() const noexcept override
    {
        return mMaxThreads;
    }
    void setTemporaryDirectory(char const* path) noexcept override
    {
        mTempDir = path != nullptr ? path : "";
    }
    char const* getTemporaryDirectory() const noexcept override
    {
        return mTempDir.c_str();
    }
    void setTempfileControlFlags(TempfileControlFlags flags) noexcept override
    {
        mTempFlags = flags;
    }
    TempfileControlFlags getTempfileControlFlags() const noexcept override
    {
        return mTempFlags;
    }
    IPluginRegistry& getPluginRegistry() noexcept override
    {
        return gPluginRegistry;
    }
    void setPluginRegistryParent(IPluginRegistry*) noexcept override {}
    IRuntime* loadRuntime(char const*) noexcept override
    {
        logTo(mLogger, Severity::kERROR, "IRuntime::loadRuntime: not supported by the trt-dump stand-in");
        return nullptr;
    }
    void setEngineHostCodeAllowed(bool allowed) noexcept override
    {
        mHostCode = allowed;
    }
    bool getEngineHostCodeAllowed() const noexcept override
    {
        return mHostCode;
    }
    ICudaEngine* deserializeCudaEngineV2(IStreamReaderV2&) noexcept override
    {
        logTo(mLogger, Severity::kERROR,
            "IRuntime::deserializeCudaEngineV2: not supported by the trt-dump stand-in; use deserializeCudaEngine");
        return nullptr;
    }
    bool setDLAWorkspaceAllocationStrategy(DLAWorkspaceAllocationStrategy strategy) noexcept override
    {
        mDlaStrategy = strategy;
        return true;
    }
    DLAWorkspaceAllocationStrategy getDLAWorkspaceAllocationStrategy() const noexcept override
    {
        return mDlaStrategy;
    }

private:
    ILogger* mLogger;
    IErrorRecorder* mRecorder{nullptr};
    int32_t mDla{-1};
    int32_t mMaxThreads{1};
    std::string mTempDir;
    TempfileControlFlags mTempFlags{0};
    bool mHostCode{false};
    DLAWorkspaceAllocationStrategy mDlaStrategy{};
};

bool versionOk(ILogger* logger, int32_t version, char const* what)
{
    if (version / 10000 != NV_TENSORRT_MAJOR)
    {
        logTo(logger, Severity::kERROR,
            std::string(what) + ": Error Code 6: API Usage Error (The caller was built against TensorRT "
                + std::to_string(version / 10000) + ".x headers (version " + std::to_string(version)
                + ") but this is TensorRT " + std::to_string(NV_TENSORRT_MAJOR) + "."
                + std::to_string(NV_TENSORRT_MINOR) + " (the trt-dump stand-in).)");
        return false;
    }
    return true;
}

} // namespace

// Called by the entry points exported from src/lib.rs.
extern "C" void* standin_create_runtime(void* logger, int32_t version)
{
    auto* log = static_cast<ILogger*>(logger);
    if (!versionOk(log, version, "createInferRuntime"))
    {
        return nullptr;
    }
    auto* impl = new RuntimeImpl(log);
    auto* pub = new Public<IRuntime, RuntimeImpl>(impl);
    impl->pub = pub;
    return pub;
}

extern "C" void* standin_create_refitter(void* engine, void* logger, int32_t version)
{
    auto* log = static_cast<ILogger*>(logger);
    if (engine == nullptr || !versionOk(log, version, "createInferRefitter"))
    {
        return nullptr;
    }
    // Every ICudaEngine this library hands out is one of ours.
    auto* pub = static_cast<Public<ICudaEngine, EngineImpl>*>(static_cast<ICudaEngine*>(engine));
    return makeRefitter(pub->impl(), log);
}

extern "C" void* standin_plugin_registry()
{
    return &gPluginRegistry;
}

extern "C" void* standin_default_logger()
{
    return &gDefaultLogger;
}
