// The valet-key pattern's two services. The token service holds the storage account's secret and
// issues upload tokens scoped to one bucket, one key and one permission, until an expiry. Object
// storage checks each request's token (signature, expiry, scope, permission) and stores the bytes
// itself: the app never sees them.
#include <fmt/format.h>

#include <deque>
#include <map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/valet/upload_token.hpp"
#include "runtime/engine/distribution.hpp"

namespace flowframe {
namespace {

constexpr std::size_t kShown = 16;

std::string megabytes(std::uint64_t bytes) { return fmt::format("{:.1f}MB", static_cast<double>(bytes) / 1e6); }

class TokenService final : public Component {
 public:
  TokenService(const v1::Node& spec, NodeIndex index, std::uint64_t seed)
      : Component(spec, index, seed), service_(spec.token_service().service_time()) {}

  void handle(const Event& event, Context& context) override {
    if (event.kind != EventKind::request) return;
    const auto& params = spec_.token_service();
    if (!event.payload || event.payload->op() != v1::Payload::ISSUE_TOKEN || event.payload->key().empty()) {
      respond(event, 400, context);
      return context.decide(Outcome::bad_request, kNoNode, "400 ask for a token for an object key");
    }
    auto reply = std::make_shared<v1::Payload>();
    auto& token = *reply->mutable_token();
    token.set_bucket(params.bucket());
    token.set_key(event.payload->key());
    token.set_permission("write");
    const Time processing = context.work(service_);
    token.set_expires_ns(context.now() + processing + from_seconds(params.token_ttl_s()));
    token.set_signature(token_signature(token, params.secret()));
    v1::IssuedToken issued;
    *issued.mutable_token() = token;
    issued.set_issued_ns(context.now());
    issued_.push_front(std::move(issued));
    if (issued_.size() > kShown) issued_.pop_back();
    ++handled_;
    context.decide(Outcome::token_issued, kNoNode,
                   fmt::format("token for {}/{} (write, expires in {:.1f}s)", token.bucket(), token.key(),
                               params.token_ttl_s()));
    respond(event, 200, context, processing, std::move(reply));
  }

  std::string apply(ControlAction& action, Context&) override {
    return "a token service has no setting '" + action.field + "' to change during a run";
  }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return issued_.size() * 160; }

  void snapshot(v1::NodeState& state) const override {
    state.set_handled(handled_);
    auto& out = *state.mutable_token_service();
    for (const auto& issued : issued_) *out.add_issued() = issued;
  }

 private:
  Sampler service_;
  std::deque<v1::IssuedToken> issued_;
  std::uint64_t handled_ = 0;
};

class ObjectStorage final : public Component {
 public:
  ObjectStorage(const v1::Node& spec, NodeIndex index, std::uint64_t seed)
      : Component(spec, index, seed), op_time_(spec.object_storage().op_time()) {
    for (const auto& bucket : spec.object_storage().buckets()) objects_[bucket];
  }

  void handle(const Event& event, Context& context) override {
    if (event.kind != EventKind::request) return;
    const Time now = context.now();
    auto answer = [&](std::uint16_t status, Outcome outcome, const std::string& note) {
      const bool accepted = status < 400;
      if (accepted) ++accepted_;
      else ++rejected_;
      if (event.payload) {
        v1::TokenCheck check;
        check.set_key(event.payload->bucket() + "/" + event.payload->key());
        check.set_verdict(accepted ? "accepted" : note);
        check.set_at_ns(now);
        checks_.push_front(std::move(check));
        if (checks_.size() > kShown) checks_.pop_back();
      }
      respond(event, status, context, context.work(op_time_));
      context.decide(outcome, kNoNode, note);
    };
    if (!event.payload || (event.payload->op() != v1::Payload::PUT && event.payload->op() != v1::Payload::READ))
      return answer(400, Outcome::bad_request, "400 not a PUT or READ");
    const auto& request = *event.payload;
    const auto& token = request.token();
    const std::string object = request.bucket() + "/" + request.key();
    const bool put = request.op() == v1::Payload::PUT;
    auto bucket = objects_.find(request.bucket());
    if (bucket == objects_.end()) return answer(404, Outcome::not_found, "404 no bucket '" + request.bucket() + "'");
    // The checks a real service makes, in its order: is the token genuine, still valid, for this
    // object, and does it allow this operation?
    if (token.signature().empty() || token_signature(token, spec_.object_storage().secret()) != token.signature())
      return answer(403, Outcome::token_bad_signature, "403 bad signature: the token was altered or forged");
    if (now >= token.expires_ns())
      return answer(403, Outcome::token_expired,
                    fmt::format("403 token expired {:.1f}s ago", to_seconds(now - token.expires_ns())));
    if (token.bucket() != request.bucket() || token.key() != request.key())
      return answer(403, Outcome::token_wrong_key,
                    fmt::format("403 wrong key: token is for {}/{}, not {}", token.bucket(), token.key(), object));
    if (token.permission() != (put ? "write" : "read"))
      return answer(403, Outcome::token_wrong_permission,
                    fmt::format("403 wrong permission: token allows {}, not {}", token.permission(),
                                put ? "write" : "read"));
    if (!put) {
      const auto found = bucket->second.find(request.key());
      if (found == bucket->second.end()) return answer(404, Outcome::not_found, "404 no object " + object);
      return answer(200, Outcome::read_ok, fmt::format("GET {} {} ok", object, megabytes(found->second.size())));
    }
    auto& stored = bucket->second[request.key()];
    stored.set_bucket(request.bucket());
    stored.set_key(request.key());
    stored.set_size(request.size());
    stored.set_uploaded_ns(now);
    answer(200, Outcome::stored, fmt::format("PUT {} {} ok", object, megabytes(request.size())));
  }

  std::string apply(ControlAction& action, Context&) override {
    return "object storage has no setting '" + action.field + "' to change during a run";
  }
  bool rich() const override { return true; }
  std::size_t state_size_hint() const override { return load() * 48 + checks_.size() * 80; }

  std::uint32_t load() const override {
    std::size_t count = 0;
    for (const auto& [bucket, objects] : objects_) count += objects.size();
    return static_cast<std::uint32_t>(count);
  }

  void snapshot(v1::NodeState& state) const override {
    state.set_load(load());
    state.set_handled(accepted_);
    state.set_rejected(rejected_);
    auto& out = *state.mutable_object_storage();
    for (const auto& [bucket, objects] : objects_)
      for (const auto& [key, object] : objects) *out.add_objects() = object;
    out.set_accepted(accepted_);
    out.set_rejected(rejected_);
    for (const auto& check : checks_) *out.add_checks() = check;
  }

 private:
  Sampler op_time_;
  std::map<std::string, std::map<std::string, v1::StoredObject>> objects_;
  std::deque<v1::TokenCheck> checks_;
  std::uint64_t accepted_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace

std::unique_ptr<Component> make_token_service(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<TokenService>(spec, index, topology.seed());
}

std::unique_ptr<Component> make_object_storage(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<ObjectStorage>(spec, index, topology.seed());
}

}  // namespace flowframe
