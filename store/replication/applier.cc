#include "store/replication/applier.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <vector>

#include "store/store.h"

namespace devstate::replication {

Status Applier::Consume(std::string* in, std::string* acks) {
  std::vector<GroupFrame> pending;  // consecutive groups, applied together (one fsync)
  size_t offset = 0;
  Status status;
  for (;;) {
    Frame frame;
    size_t used = 0;
    const auto r = reader_.Next(std::string_view(*in).substr(offset), &frame, &used);
    if (r == FrameReader::Result::kError) {
      status = Status::Corruption("replication stream: " + reader_.error());
      break;
    }
    if (r == FrameReader::Result::kIncomplete) break;
    if (frame.type == FrameType::kGroup) {
      GroupFrame group;
      if (!ParseGroup(frame.payload, &group)) {
        status = Status::Corruption("replication stream: a malformed group frame");
        break;
      }
      if (group.epoch < store_->Term()) {
        status = Status::Corruption("replication stream: a group of epoch " +
                                    std::to_string(group.epoch) + ", below this node's term " +
                                    std::to_string(store_->Term()));
        break;
      }
      pending.push_back(group);
      primary_seq_ = std::max(primary_seq_, group.last_seq);
      offset += used;
      continue;
    }
    // Any other frame comes after the groups before it are applied.
    status = ApplyPending(&pending, acks);
    if (!status.ok()) break;
    offset += used;
    switch (frame.type) {
      case FrameType::kHeartbeat: {
        uint64_t epoch = 0, seq = 0;
        if (!ParseTwo(frame.payload, &epoch, &seq)) {
          status = Status::Corruption("replication stream: a malformed heartbeat");
          break;
        }
        if (epoch < store_->Term()) {
          status = Status::Corruption("replication stream: the primary's epoch " +
                                      std::to_string(epoch) + " is below this node's term");
          break;
        }
        primary_seq_ = std::max(primary_seq_, seq);
        // An acknowledgement now and then, so the primary sees this node's position (and
        // lag) without waiting for a write.
        AppendAck(acks, store_->Term(), store_->LastSequence());
        break;
      }
      case FrameType::kPromote: {
        if (!ParseTwo(frame.payload, &promote_epoch_, &promote_seq_)) {
          status = Status::Corruption("replication stream: a malformed promotion");
        }
        break;
      }
      case FrameType::kAck:
        status = Status::Corruption("replication stream: an acknowledgement from the primary");
        break;
      default:
        status = OnSnapshot(frame, acks);
        break;
    }
    if (!status.ok()) break;
  }
  if (status.ok()) status = ApplyPending(&pending, acks);
  in->erase(0, offset);
  if (status.ok() && promote_epoch_ != 0 && store_->LastSequence() >= promote_seq_) {
    const uint64_t epoch = promote_epoch_;
    promote_epoch_ = 0;
    if (on_promote) on_promote(epoch);
  }
  return status;
}

Status Applier::ApplyPending(std::vector<GroupFrame>* pending, std::string* acks) {
  if (pending->empty()) return Status::OK();
  if (copying_) return Status::Corruption("replication stream: a group inside a full copy");
  // A group of a newer epoch than any heard of: remember it before holding its data.
  const uint64_t newest = pending->back().epoch;
  Status s = store_->RaiseTerm(newest);
  if (s.ok()) s = store_->ApplyGroups(*pending);
  pending->clear();
  if (!s.ok()) return s;
  AppendAck(acks, store_->Term(), store_->LastSequence());
  return Status::OK();
}

Status Applier::OnSnapshot(const Frame& frame, std::string* acks) {
  namespace fs = std::filesystem;
  std::error_code ec;
  switch (frame.type) {
    case FrameType::kSnapBegin: {
      uint64_t files = 0;
      if (!ParseSnapBegin(frame.payload, &copy_seq_, &files, &copy_total_)) {
        return Status::Corruption("replication stream: a malformed copy header");
      }
      copy_dir_ = store_->StagingDir() + "/receive";
      fs::remove_all(copy_dir_, ec);
      fs::create_directories(copy_dir_, ec);
      if (ec) return Status::IOError("cannot make '" + copy_dir_ + "': " + ec.message());
      copying_ = true;
      copy_bytes_ = 0;
      return Status::OK();
    }
    case FrameType::kSnapFile: {
      std::string name;
      if (!copying_ || file_left_ != 0 || !ParseSnapFile(frame.payload, &name, &file_left_)) {
        return Status::Corruption("replication stream: a malformed copy file header");
      }
      file_.close();
      file_.clear();
      file_.open(fs::path(copy_dir_) / name, std::ios::binary | std::ios::trunc);
      if (!file_) return Status::IOError("cannot write the copy's " + name);
      return Status::OK();
    }
    case FrameType::kSnapData: {
      if (!copying_ || frame.payload.size() > file_left_) {
        return Status::Corruption("replication stream: copy data beyond its file");
      }
      file_.write(frame.payload.data(), static_cast<std::streamsize>(frame.payload.size()));
      if (!file_) return Status::IOError("cannot write the copy (disk full?)");
      file_left_ -= frame.payload.size();
      copy_bytes_ += frame.payload.size();
      return Status::OK();
    }
    case FrameType::kSnapEnd: {
      if (!copying_ || file_left_ != 0) {
        return Status::Corruption("replication stream: a copy ended early");
      }
      file_.close();
      if (!file_) return Status::IOError("cannot write the copy (disk full?)");
      copying_ = false;
      // The copy's files are made durable before they replace the journal's.
      for (const auto& entry : fs::directory_iterator(copy_dir_, ec)) {
        const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::fsync(fd) != 0) {
          if (fd >= 0) ::close(fd);
          return Status::IOError("cannot sync the copy's " + entry.path().filename().string());
        }
        ::close(fd);
      }
      Status s = store_->InstallCopy(copy_dir_);
      fs::remove_all(copy_dir_, ec);
      if (!s.ok()) return s;
      if (store_->LastSequence() != copy_seq_) {
        return Status::Corruption("replication stream: the copy holds position " +
                                  std::to_string(store_->LastSequence()) + ", not " +
                                  std::to_string(copy_seq_));
      }
      ++copies_installed_;
      AppendAck(acks, store_->Term(), store_->LastSequence());
      return Status::OK();
    }
    default:
      return Status::Corruption("replication stream: an unexpected frame");
  }
}

}  // namespace devstate::replication
