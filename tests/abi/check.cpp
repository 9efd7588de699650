// Prints, as `name value` lines, every ABI fact trt-dump's binding relies on, as the C++ compiler
// computes it from NVIDIA's own headers: the vtable slots of the methods it calls, sizes and offsets
// of the structs it passes, the enum values it uses, and the destructor slots it calls to release
// objects. tests/trt/trt_abi.rs compiles this against each header set it has and compares the lines with
// the tables in src/trt/abi/*.rs; tests/abi/check-v10.sh does the same for the TensorRT 10.x tags.
//
// Every slot is looked up with the exact signature the Rust side declares: a method that is absent,
// or present with another signature, prints -1, so a changed parameter or return type fails the
// comparison as surely as a moved slot.
//
// Build: c++ -std=c++20 -O0 -I HEADERS -I tests/abi/stub tests/abi/check.cpp -o check
#include <NvInfer.h>
#if __has_include(<NvOnnxParser.h>)
#include <NvOnnxParser.h>
#define TRT_DUMP_HAVE_ONNX_PARSER 1
#endif

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <new>
#include <type_traits>

// Stand-ins for types that only newer headers declare. The checks below live inside namespace
// nvinfer1, so unqualified lookup finds nvinfer1's own type when it exists and these otherwise;
// anything declared with a stand-in then fails its signature lookup and prints -1.
struct InterfaceInfo
{
};
enum class APILanguage : int32_t
{
};
enum class EngineStat : int32_t
{
};

namespace nvinfer1
{
namespace abicheck
{

void emit(char const* name, long long value)
{
    std::printf("%s %lld\n", name, value);
}

// Itanium C++ ABI 2.3: a pointer to a virtual member function is {1 + byte offset in the vtable,
// this-adjustment}; a non-virtual one holds the (even) function address.
template <typename Pmf>
long long slotOf(Pmf pmf)
{
    static_assert(sizeof(Pmf) == 2 * sizeof(std::uintptr_t), "Itanium pointer to member function expected");
    std::uintptr_t words[2];
    std::memcpy(words, &pmf, sizeof words);
    if ((words[0] & 1U) == 0 || words[1] != 0)
    {
        return -1;
    }
    return static_cast<long long>((words[0] - 1) / sizeof(void*));
}

// SLOT(VRefitter, getAllWeights, int32_t, (int32_t, char const**), ) prints the slot of the method
// with exactly that signature. The generic lambda makes the lookup a dependent one, so an absent
// method prints -1 instead of failing the build (older headers lack methods added later).
#define SLOT(CLS, NAME, RET, ARGS, CV)                                                                  \
    do                                                                                                  \
    {                                                                                                   \
        auto probe = [](auto* tag) {                                                                    \
            using T = std::remove_pointer_t<decltype(tag)>;                                             \
            using Pmf = RET(T::*) ARGS CV noexcept;                                                     \
            if constexpr (requires { static_cast<Pmf>(&T::NAME); })                                     \
                emit(#CLS "::" #NAME, slotOf(static_cast<Pmf>(&T::NAME)));                              \
            else                                                                                        \
                emit(#CLS "::" #NAME, -1);                                                              \
        };                                                                                              \
        probe(static_cast<apiv::CLS*>(nullptr));                                                        \
    } while (0)

// SLOT_OF(nvonnxparser::IParser, IParser, getNbErrors, int, (), const): as SLOT, for a plain
// interface outside apiv (the ONNX parser's classes have no mImpl).
#define SLOT_OF(QUALIFIED, CLS, NAME, RET, ARGS, CV)                                                    \
    do                                                                                                  \
    {                                                                                                   \
        auto probe = [](auto* tag) {                                                                    \
            using T = std::remove_pointer_t<decltype(tag)>;                                             \
            using Pmf = RET(T::*) ARGS CV noexcept;                                                     \
            if constexpr (requires { static_cast<Pmf>(&T::NAME); })                                     \
                emit(#CLS "::" #NAME, slotOf(static_cast<Pmf>(&T::NAME)));                              \
            else                                                                                        \
                emit(#CLS "::" #NAME, -1);                                                              \
        };                                                                                              \
        probe(static_cast<QUALIFIED*>(nullptr));                                                        \
    } while (0)

// As SLOT_OF, for methods declared without noexcept (IParserError's).
#define SLOT_OF_THROWING(QUALIFIED, CLS, NAME, RET, ARGS, CV)                                           \
    do                                                                                                  \
    {                                                                                                   \
        auto probe = [](auto* tag) {                                                                    \
            using T = std::remove_pointer_t<decltype(tag)>;                                             \
            using Pmf = RET(T::*) ARGS CV;                                                              \
            if constexpr (requires { static_cast<Pmf>(&T::NAME); })                                     \
                emit(#CLS "::" #NAME, slotOf(static_cast<Pmf>(&T::NAME)));                              \
            else                                                                                        \
                emit(#CLS "::" #NAME, -1);                                                              \
        };                                                                                              \
        probe(static_cast<QUALIFIED*>(nullptr));                                                        \
    } while (0)

// An enum value, or -1 where the headers do not have it (kFP4, kE8M0, kINCLUDE_REFIT, EngineStat in
// older 10.x headers).
#define ENUM(E, V)                                                                                      \
    do                                                                                                  \
    {                                                                                                   \
        auto probe = [](auto* tag) {                                                                    \
            using T = std::remove_pointer_t<decltype(tag)>;                                             \
            if constexpr (requires { T::V; })                                                           \
                emit(#E "::" #V, static_cast<long long>(T::V));                                         \
            else                                                                                        \
                emit(#E "::" #V, -1);                                                                   \
        };                                                                                              \
        probe(static_cast<E*>(nullptr));                                                                \
    } while (0)

// trt-dump releases every object by calling a destructor slot of its vtable. A probe class derived
// from the interface runs each candidate slot and says which one destroyed the object (complete
// destructor) and which one destroyed and freed it (deleting destructor).
template <typename Base>
struct Probe : Base
{
    static inline int destroyed = 0;
    static inline int freed = 0;
    Probe() = default;
    ~Probe() override
    {
        ++destroyed;
    }
    static void operator delete(void* p)
    {
        ++freed;
        ::operator delete(p);
    }
};

template <typename P>
void callSlot(P* obj, long long slot)
{
    using Fn = void (*)(void*);
    void** vtable = *reinterpret_cast<void***>(obj);
    reinterpret_cast<Fn>(vtable[slot])(obj);
}

// The destructor takes the first two slots in [0, count) that no method found by PMF has taken.
template <typename P>
void destructorSlots(char const* complete, char const* deleting, long long count, long long const* taken, int nTaken)
{
    long long first = -1;
    for (long long s = 0; s + 1 < count && first < 0; ++s)
    {
        bool isTaken = false;
        for (int i = 0; i < nTaken; ++i)
        {
            isTaken = isTaken || taken[i] == s;
        }
        first = isTaken ? -1 : s;
    }
    long long foundComplete = -1;
    long long foundDeleting = -1;
    if (first >= 0)
    {
        alignas(P) unsigned char storage[sizeof(P)];
        P* inPlace = new (storage) P();
        P::destroyed = 0;
        P::freed = 0;
        callSlot(inPlace, first);
        if (P::destroyed == 1 && P::freed == 0)
        {
            foundComplete = first;
        }
        P* onHeap = new P();
        P::destroyed = 0;
        P::freed = 0;
        callSlot(onHeap, first + 1);
        if (P::destroyed == 1 && P::freed == 1)
        {
            foundDeleting = first + 1;
        }
    }
    emit(complete, foundComplete);
    emit(deleting, foundDeleting);
}

// A public interface object is {vptr, mImpl}: its methods are inline forwarders to mImpl, and its
// own vtable holds the destructor.
template <typename C>
struct Peek : C
{
    static long long implOffset()
    {
        auto member = &Peek::mImpl;
        std::ptrdiff_t off;
        static_assert(sizeof member == sizeof off, "Itanium pointer to data member expected");
        std::memcpy(&off, &member, sizeof off);
        return off;
    }
};

#define PUBLIC_OBJECT(CLS)                                                                              \
    do                                                                                                  \
    {                                                                                                   \
        emit(#CLS ".size", sizeof(CLS));                                                                \
        emit(#CLS ".mImpl", Peek<CLS>::implOffset());                                                   \
        destructorSlots<Probe<CLS>>(#CLS "::~" #CLS "(complete)", #CLS "::~" #CLS "(deleting)", 2,      \
            nullptr, 0);                                                                                \
    } while (0)

struct LoggerProbe : ILogger
{
    void log(Severity, AsciiChar const*) noexcept override {}
};

// ILogger derives from IVersionedInterface in TensorRT 11 and TensorRT-RTX 1.5+ (vtable:
// getAPILanguage, getInterfaceInfo, destructor x2, log); before that it is a class of its own
// (log, destructor x2).
template <typename L>
void loggerFacts()
{
    long long taken[3];
    int n = 0;
    long long log = slotOf(static_cast<void (L::*)(ILogger::Severity, AsciiChar const*) noexcept>(&L::log));
    emit("ILogger::log", log);
    taken[n++] = log;
    if constexpr (requires { static_cast<InterfaceInfo (L::*)() const noexcept>(&L::getInterfaceInfo); })
    {
        long long apiLanguage = slotOf(static_cast<APILanguage (L::*)() const noexcept>(&L::getAPILanguage));
        long long interfaceInfo = slotOf(static_cast<InterfaceInfo (L::*)() const noexcept>(&L::getInterfaceInfo));
        emit("ILogger.versioned", 1);
        emit("ILogger::getAPILanguage", apiLanguage);
        emit("ILogger::getInterfaceInfo", interfaceInfo);
        taken[n++] = apiLanguage;
        taken[n++] = interfaceInfo;
        using Info = decltype(L{}.getInterfaceInfo());
        emit("InterfaceInfo.size", sizeof(Info));
        emit("InterfaceInfo.kind", offsetof(Info, kind));
        emit("InterfaceInfo.major", offsetof(Info, major));
        emit("InterfaceInfo.minor", offsetof(Info, minor));
        emit("InterfaceInfo.trivial", std::is_trivially_copyable_v<Info> && std::is_trivially_destructible_v<Info>);
        emit("APILanguage::kCPP", static_cast<long long>(L{}.getAPILanguage()));
        L probe;
        Info info = probe.getInterfaceInfo();
        emit("ILogger.interfaceMajor", info.major);
        emit("ILogger.interfaceMinor", info.minor);
        emit("ILogger.interfaceKindIsILogger", std::strcmp(info.kind, "ILogger") == 0 ? 1 : 0);
    }
    else
    {
        emit("ILogger.versioned", 0);
    }
    emit("ILogger.size", sizeof(L));
    destructorSlots<Probe<L>>("ILogger::~ILogger(complete)", "ILogger::~ILogger(deleting)", n + 2, taken, n);
}

void run()
{
    emit("NV_TENSORRT_MAJOR", NV_TENSORRT_MAJOR);
    emit("NV_TENSORRT_MINOR", NV_TENSORRT_MINOR);
    emit("NV_TENSORRT_PATCH", NV_TENSORRT_PATCH);
    emit("NV_TENSORRT_VERSION", NV_TENSORRT_VERSION);
    emit("pointer.size", sizeof(void*));

    // Passed or returned by value: the Rust side mirrors these as #[repr(C)] structs. A trivially
    // copyable, trivially destructible class travels exactly as the C struct would (returned through
    // a hidden pointer, passed copied onto the stack, both being larger than 16 bytes).
    emit("Weights.size", sizeof(Weights));
    emit("Weights.type", offsetof(Weights, type));
    emit("Weights.values", offsetof(Weights, values));
    emit("Weights.count", offsetof(Weights, count));
    emit("Weights.trivial", std::is_trivially_copyable_v<Weights> && std::is_trivially_destructible_v<Weights>);
    emit("Dims.size", sizeof(Dims));
    emit("Dims.nbDims", offsetof(Dims, nbDims));
    emit("Dims.d", offsetof(Dims, d));
    emit("Dims.MAX_DIMS", Dims::MAX_DIMS);
    emit("Dims.trivial", std::is_trivially_copyable_v<Dims> && std::is_trivially_destructible_v<Dims>);
    emit("DataType.size", sizeof(DataType));
    emit("TensorIOMode.size", sizeof(TensorIOMode));
    emit("SerializationFlag.size", sizeof(SerializationFlag));
    emit("SerializationFlags.size", sizeof(SerializationFlags));
    emit("ILogger::Severity.size", sizeof(ILogger::Severity));
    emit("bool.size", sizeof(bool));

    ENUM(DataType, kFLOAT);
    ENUM(DataType, kHALF);
    ENUM(DataType, kINT8);
    ENUM(DataType, kINT32);
    ENUM(DataType, kBOOL);
    ENUM(DataType, kUINT8);
    ENUM(DataType, kFP8);
    ENUM(DataType, kBF16);
    ENUM(DataType, kINT64);
    ENUM(DataType, kINT4);
    ENUM(DataType, kFP4);
    ENUM(DataType, kE8M0);
    ENUM(TensorIOMode, kNONE);
    ENUM(TensorIOMode, kINPUT);
    ENUM(TensorIOMode, kOUTPUT);
    ENUM(SerializationFlag, kEXCLUDE_WEIGHTS);
    ENUM(SerializationFlag, kEXCLUDE_LEAN_RUNTIME);
    ENUM(SerializationFlag, kINCLUDE_REFIT);
    ENUM(ILogger::Severity, kINTERNAL_ERROR);
    ENUM(ILogger::Severity, kERROR);
    ENUM(ILogger::Severity, kWARNING);
    ENUM(ILogger::Severity, kINFO);
    ENUM(ILogger::Severity, kVERBOSE);
    ENUM(EngineStat, kTOTAL_WEIGHTS_SIZE);
    ENUM(EngineStat, kSTRIPPED_WEIGHTS_SIZE);

    PUBLIC_OBJECT(IRuntime);
    PUBLIC_OBJECT(ICudaEngine);
    PUBLIC_OBJECT(IRefitter);
    PUBLIC_OBJECT(IHostMemory);
    PUBLIC_OBJECT(ISerializationConfig);
    loggerFacts<LoggerProbe>();

    // The implementation classes (apiv::V*): slots 0 and 1 are ~VRoot, methods follow.
    SLOT(VRuntime, deserializeCudaEngine, ICudaEngine*, (void const*, std::size_t), );
    SLOT(VRuntime, setMaxThreads, bool, (int32_t), );

    SLOT(VCudaEngine, getNbLayers, int32_t, (), const);
    SLOT(VCudaEngine, serialize, IHostMemory*, (), const);
    SLOT(VCudaEngine, getDeviceMemorySize, std::size_t, (), const);
    SLOT(VCudaEngine, isRefittable, bool, (), const);
    SLOT(VCudaEngine, getName, char const*, (), const);
    SLOT(VCudaEngine, getNbOptimizationProfiles, int32_t, (), const);
    SLOT(VCudaEngine, getTensorShape, Dims, (char const*), const);
    SLOT(VCudaEngine, getTensorDataType, DataType, (char const*), const);
    SLOT(VCudaEngine, getTensorIOMode, TensorIOMode, (char const*), const);
    SLOT(VCudaEngine, getNbIOTensors, int32_t, (), const);
    SLOT(VCudaEngine, getIOTensorName, char const*, (int32_t), const);
    SLOT(VCudaEngine, createSerializationConfig, ISerializationConfig*, (), );
    SLOT(VCudaEngine, serializeWithConfig, IHostMemory*, (ISerializationConfig&), const);
    SLOT(VCudaEngine, getDeviceMemorySizeV2, int64_t, (), const);
    SLOT(VCudaEngine, getEngineStat, int64_t, (EngineStat), const);

    SLOT(VRefitter, refitCudaEngine, bool, (), );
    SLOT(VRefitter, setNamedWeights, bool, (char const*, Weights), );
    SLOT(VRefitter, getMissingWeights, int32_t, (int32_t, char const**), );
    SLOT(VRefitter, getAllWeights, int32_t, (int32_t, char const**), );
    SLOT(VRefitter, setMaxThreads, bool, (int32_t), );
    SLOT(VRefitter, getNamedWeights, Weights, (char const*), const);
    SLOT(VRefitter, unsetNamedWeights, bool, (char const*), );
    SLOT(VRefitter, setWeightsValidation, void, (bool), );
    SLOT(VRefitter, getWeightsPrototype, Weights, (char const*), const);

    SLOT(VHostMemory, data, void*, (), const);
    SLOT(VHostMemory, size, std::size_t, (), const);
    SLOT(VHostMemory, type, DataType, (), const);

    SLOT(VSerializationConfig, setFlags, bool, (SerializationFlags), );
    SLOT(VSerializationConfig, getFlags, SerializationFlags, (), const);
    SLOT(VSerializationConfig, clearFlag, bool, (SerializationFlag), );
    SLOT(VSerializationConfig, setFlag, bool, (SerializationFlag), );
    SLOT(VSerializationConfig, getFlag, bool, (SerializationFlag), const);

    // The builder side (selftest): IBuilder, IBuilderConfig, INetworkDefinition, the flags used.
    PUBLIC_OBJECT(IBuilder);
    PUBLIC_OBJECT(IBuilderConfig);
    PUBLIC_OBJECT(INetworkDefinition);
    SLOT(VBuilder, createBuilderConfig, IBuilderConfig*, (), );
    SLOT(VBuilder, createNetworkV2, INetworkDefinition*, (NetworkDefinitionCreationFlags), );
    SLOT(VBuilder, buildSerializedNetwork, IHostMemory*, (INetworkDefinition&, IBuilderConfig&), );
    SLOT(VBuilderConfig, setFlag, void, (BuilderFlag), );
    SLOT(VBuilderConfig, getFlag, bool, (BuilderFlag), const);
    emit("BuilderFlag.size", sizeof(BuilderFlag));
    emit("NetworkDefinitionCreationFlags.size", sizeof(NetworkDefinitionCreationFlags));
    ENUM(BuilderFlag, kREFIT);
    ENUM(BuilderFlag, kSTRIP_PLAN);
    ENUM(NetworkDefinitionCreationFlag, kSTRONGLY_TYPED);
#ifdef TRT_DUMP_HAVE_ONNX_PARSER
    SLOT_OF(nvonnxparser::IParser, IParser, parse, bool, (void const*, std::size_t, char const*), );
    SLOT_OF(nvonnxparser::IParser, IParser, getNbErrors, int, (), const);
    SLOT_OF(nvonnxparser::IParser, IParser, getError, nvonnxparser::IParserError const*, (int), const);
    SLOT_OF(nvonnxparser::IParser, IParser, clearErrors, void, (), );
    {
        // ~IParser is declared right after clearErrors in every NvOnnxParser.h (10.x include/,
        // 11.4, RTX 1.3-1.7), so it takes the two slots after it: complete, then deleting. The
        // first method declared after it (getUsedVCPluginLibraries, where present) must then sit
        // one further on, which is checked here.
        auto clear = slotOf(static_cast<void (nvonnxparser::IParser::*)() noexcept>(&nvonnxparser::IParser::clearErrors));
        long long deleting = clear + 2;
        auto probe = [&](auto* tag) {
            using T = std::remove_pointer_t<decltype(tag)>;
            if constexpr (requires { &T::getUsedVCPluginLibraries; })
            {
                if (slotOf(&T::getUsedVCPluginLibraries) != deleting + 1)
                    deleting = -2;
            }
        };
        probe(static_cast<nvonnxparser::IParser*>(nullptr));
        emit("IParser::~IParser(deleting)", deleting);
    }
    SLOT_OF_THROWING(nvonnxparser::IParserError, IParserError, desc, char const*, (), const);
    SLOT_OF_THROWING(nvonnxparser::IParserError, IParserError, node, int, (), const);
#else
    for (char const* name : {"IParser::parse", "IParser::getNbErrors", "IParser::getError", "IParser::clearErrors",
             "IParser::~IParser(deleting)", "IParserError::desc", "IParserError::node"})
        emit(name, -1);
#endif
}

} // namespace abicheck
} // namespace nvinfer1

int main()
{
    nvinfer1::abicheck::run();
    return 0;
}
