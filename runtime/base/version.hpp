#pragma once
namespace flowframe {
inline constexpr const char* kFlowFrameVersion = "0.1.0";
}
