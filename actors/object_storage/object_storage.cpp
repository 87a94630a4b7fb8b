// Object storage (valet-key pattern): checks each request's token (signature, expiry, scope,
// permission) and stores the bytes itself.
#include <fmt/format.h>

#include <deque>
#include <map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/common/upload_token.hpp"
#include "runtime/engine/distribution.hpp"

namespace flowframe {
namespace {

constexpr std::size_t kShownChecks = 16;

std::string megabytes(std::uint64_t bytes) { return fmt::format("{:.1f}MB", static_cast<double>(bytes) / 1e6); }

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
        if (checks_.size() > kShownChecks) checks_.pop_back();
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
    if (!token_verifies(token, spec_.object_storage().secret()))
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
    answer(201, Outcome::stored, fmt::format("PUT {} {} created", object, megabytes(request.size())));  // as S3-like APIs answer
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

std::unique_ptr<Component> make_object_storage(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<ObjectStorage>(spec, index, topology.seed());
}

namespace {

void check_object_storage(NodeChecks& c) {
  const auto& storage = c.node().object_storage();
  if (storage.secret().empty())
    c.problem(c.at({{"object_storage"}, {"secret"}}), "object_storage.secret", "empty secret: tokens could be forged");
  if (storage.buckets().empty()) c.problem(c.at({{"object_storage"}}), "object_storage.buckets", "needs a bucket");
  check_optional_distribution(c, storage.has_op_time(), storage.op_time(), "object_storage", "op_time");
}

const KindDescription kObjectStorage{
    .kind = v1::Node::OBJECT_STORAGE,
    .name = "object_storage",
    .defaults =
        [](v1::Node& node) {
          if (!node.object_storage().has_op_time()) *node.mutable_object_storage()->mutable_op_time() = constant_ms(5);
        },
    .check = check_object_storage,
};
FLOWFRAME_KIND(kObjectStorage, make_object_storage);

}  // namespace

}  // namespace flowframe
