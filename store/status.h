// Status: the result of a store operation, leveldb-style.
//
// An OK status carries no message and allocates nothing, so it is cheap to return on
// hot paths. The class is [[nodiscard]]: ignoring a returned Status is a compile warning.
// Callers map codes to their protocol's words (RESP errors, HTTP statuses) in one place.
// Status values are immutable and safe to copy between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace devstate {

class [[nodiscard]] Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound,
    kInvalidArgument,
    kCorruption,
    kIOError,       // the journal could not be written or synced
    kWriteRefused,  // the store refuses writes after an earlier journal failure
    kNoReplicas,    // not enough replicas acknowledged the write
    kShutdown,      // the store is closing
    kWrongType,     // the key holds a value of another type than the operation needs
    kNotPrimary,    // this node is a replica: writes belong to the primary
    kNoSpace,       // the journal's disk is full: writes wait for space, reads go on
    kFenced,        // this primary cannot be sure its lease is still its own
  };

  Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status WriteRefused(std::string_view msg) { return Status(Code::kWriteRefused, msg); }
  static Status NoReplicas(std::string_view msg) { return Status(Code::kNoReplicas, msg); }
  static Status Fenced(std::string_view msg) { return Status(Code::kFenced, msg); }
  static Status Shutdown(std::string_view msg) { return Status(Code::kShutdown, msg); }
  static Status WrongType(std::string_view msg) { return Status(Code::kWrongType, msg); }
  static Status NotPrimary(std::string_view msg) { return Status(Code::kNotPrimary, msg); }
  static Status NoSpace(std::string_view msg) { return Status(Code::kNoSpace, msg); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK" or "<code name>: <message>", for logs.
  std::string ToString() const;

 private:
  Status(Code code, std::string_view msg) : code_(code), message_(msg) {}

  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

}  // namespace devstate
