#include "api/resp/replica_link.h"

#include <spdlog/spdlog.h>

namespace devstate::resp {

void ReplicaLink::Start(std::unique_ptr<Transport> io, std::shared_ptr<replication::Feed> feed,
                        std::string received) {
  auto link = std::make_shared<ReplicaLink>(std::move(io), std::move(feed));
  link->in_ = std::move(received);
  std::weak_ptr<ReplicaLink> weak = link;
  link->feed_->SetWakeup([weak, post = link->io_->Poster()] {
    post([weak] {
      if (auto self = weak.lock()) self->Pump();
    });
  });
  link->TakeAcks();
  link->Pump();
  link->Read();
}

ReplicaLink::ReplicaLink(std::unique_ptr<Transport> io, std::shared_ptr<replication::Feed> feed)
    : io_(std::move(io)), feed_(std::move(feed)), read_buffer_(kReadSize, '\0') {}

ReplicaLink::~ReplicaLink() {
  feed_->SetWakeup(nullptr);  // nothing is left to wake, and the loop may be ending
  feed_->Close("the replica's connection closed");
}

void ReplicaLink::Read() {
  if (closed_) return;
  io_->ReadSome(read_buffer_.data(), read_buffer_.size(),
                [self = shared_from_this()](bool ok, size_t n) {
                  if (!ok) return self->Close("the replica closed the connection");
                  self->in_.append(self->read_buffer_.data(), n);
                  self->TakeAcks();
                  self->Read();
                });
}

void ReplicaLink::TakeAcks() {
  size_t at = 0;
  for (;;) {
    replication::Frame frame;
    size_t used = 0;
    const auto r = reader_.Next(std::string_view(in_).substr(at), &frame, &used);
    if (r == replication::FrameReader::Result::kIncomplete) break;
    uint64_t term = 0, seq = 0;
    if (r == replication::FrameReader::Result::kError ||
        frame.type != replication::FrameType::kAck ||
        !replication::ParseTwo(frame.payload, &term, &seq)) {
      return Close("the replica sent something other than an acknowledgement");
    }
    feed_->OnAck(term, seq);
    at += used;
  }
  in_.erase(0, at);
  if (in_.size() > kMaxUnread) Close("the replica sent an oversized frame");
}

void ReplicaLink::Pump() {
  if (writing_ || closed_) return;
  out_.clear();
  if (!feed_->Take(&out_, kTakeBytes)) return Close("the feed ended");
  if (out_.empty()) return;  // the feed wakes us when it has more
  writing_ = true;
  io_->Write(out_.data(), out_.size(), [self = shared_from_this()](bool ok, size_t) {
    self->writing_ = false;
    if (!ok) return self->Close("writing to the replica failed");
    self->Pump();
  });
}

void ReplicaLink::Close(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  spdlog::debug("replication: link to a replica ends: {}", why);
  feed_->Close(why);
  io_->Close();
}

}  // namespace devstate::resp
