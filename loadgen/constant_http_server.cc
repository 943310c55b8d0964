// constant-http-server: a minimal Boost.Beast HTTP/1.1 server that answers every request
// with the same small JSON body, one thread, keep-alive. The yardstick for devstate's
// GET /devices/<id>: what Beast itself costs on this machine, measured in the same run.
//
//   constant-http-server PORT
// First and unsorted: boost 1.74's awaitable.hpp needs std::exchange and
// does not include <utility> itself.
// clang-format off
#include <utility>
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr const char* kBody =
    R"({"deviceId":"dev-1","batteryLevel":87,"latitude":52.52,"longitude":13.4,"status":"active","temperature":6.4,"lastSeenAt":"2026-11-22T09:00:00.000Z"})";

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {}
  void Read() {
    request_ = {};
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return;
                       self->Write();
                     });
  }

 private:
  void Write() {
    response_ = http::response<http::string_body>(http::status::ok, request_.version());
    response_.set(http::field::server, "constant");
    response_.set(http::field::content_type, "application/json");
    response_.keep_alive(request_.keep_alive());
    response_.body() = kBody;
    response_.prepare_payload();
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->response_.keep_alive()) return;
                        self->Read();
                      });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

void Accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(socket))->Read();
    }
    Accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: constant-http-server PORT\n");
    return 2;
  }
  net::io_context ioc(1);
  tcp::acceptor acceptor(
      ioc, {net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(std::atoi(argv[1]))});
  Accept(acceptor);
  ioc.run();
}
