// What every protocol server does the same way: open a listening socket on bind:port,
// and pick the executor a new session runs on. Header-only; used by http/ and resp/.
#pragma once

#include <fmt/format.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <string>
#include <string_view>

#include "store/status.h"

namespace devstate::api {

// Binds and listens (SO_REUSEADDR, so a restart finds its port free). `name` ("HTTP") and
// `key` ("http") word the errors: a bad address names the config key `<key>.bind`.
inline Status Listen(boost::asio::ip::tcp::acceptor* acceptor, const std::string& bind,
                     uint16_t port, std::string_view name, std::string_view key) {
  namespace net = boost::asio;
  boost::system::error_code ec;
  const auto address = net::ip::make_address(bind, ec);
  if (ec) return Status::InvalidArgument(fmt::format("{}.bind '{}': {}", key, bind, ec.message()));
  const net::ip::tcp::endpoint endpoint(address, port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::IOError(
        fmt::format("cannot listen for {} on {}:{}: {}", name, bind, port, ec.message()));
  return Status::OK();
}

// With one thread the io_context itself serialises each session; a strand would only add
// cost. With more, each session gets its own strand.
inline boost::asio::any_io_executor SessionExecutor(boost::asio::io_context& ioc, int threads) {
  return threads == 1 ? boost::asio::any_io_executor(ioc.get_executor())
                      : boost::asio::any_io_executor(boost::asio::make_strand(ioc));
}

}  // namespace devstate::api
