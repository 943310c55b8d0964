#include "store/status.h"

namespace devstate {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kIOError:
      return "IOError";
    case Status::Code::kWriteRefused:
      return "WriteRefused";
    case Status::Code::kNoReplicas:
      return "NoReplicas";
    case Status::Code::kShutdown:
      return "Shutdown";
    case Status::Code::kWrongType:
      return "WrongType";
    case Status::Code::kNotPrimary:
      return "NotPrimary";
    case Status::Code::kNoSpace:
      return "NoSpace";
    case Status::Code::kFenced:
      return "Fenced";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = CodeName(code_);
  out += ": ";
  out += message_;
  return out;
}

}  // namespace devstate
