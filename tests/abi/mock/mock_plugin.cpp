// A stand-in plugin library: exports initLibNvInferPlugins and initTrtLlmPlugins like
// libnvinfer_plugin.so and TensorRT-LLM's plugin library, and logs through the ILogger it is given
// (through the headers' ILogger class), so tests see the call and the logger working.
#include <NvInferRuntime.h>

#include <string>

extern "C" bool initLibNvInferPlugins(void* logger, char const* libNamespace) noexcept
{
    std::string msg = std::string("mock plugin: initLibNvInferPlugins namespace='") + libNamespace + "'";
    static_cast<nvinfer1::ILogger*>(logger)->log(nvinfer1::ILogger::Severity::kWARNING, msg.c_str());
    return true;
}

extern "C" bool initTrtLlmPlugins(void* logger, char const* libNamespace) noexcept
{
    std::string msg = std::string("mock plugin: initTrtLlmPlugins namespace='") + libNamespace + "'";
    static_cast<nvinfer1::ILogger*>(logger)->log(nvinfer1::ILogger::Severity::kWARNING, msg.c_str());
    return true;
}
