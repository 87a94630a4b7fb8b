// Token service (valet-key pattern): holds the storage account's secret and issues upload tokens
// scoped to one bucket, one key and one permission, until an expiry. The app never sees the bytes.
#include <fmt/format.h>

#include <deque>
#include <map>

#include "actors/common/components.hpp"
#include "actors/common/routing.hpp"
#include "actors/common/upload_token.hpp"
#include "runtime/engine/distribution.hpp"

namespace flowframe {
namespace {

constexpr std::size_t kShownTokens = 16;

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
    if (issued_.size() > kShownTokens) issued_.pop_back();
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

}  // namespace

std::unique_ptr<Component> make_token_service(const v1::Node& spec, NodeIndex index, const Topology& topology) {
  return std::make_unique<TokenService>(spec, index, topology.seed());
}

namespace {

void check_token_service(NodeChecks& c) {
  const auto& service = c.node().token_service();
  if (service.secret().empty())
    c.problem(c.at({{"token_service"}, {"secret"}}), "token_service.secret", "empty secret: tokens could be forged");
  if (service.bucket().empty()) c.problem(c.at({{"token_service"}, {"bucket"}}), "token_service.bucket", "missing");
  if (!(service.token_ttl_s() > 0))
    c.problem(c.at({{"token_service"}, {"token_ttl_s"}}), "token_service.token_ttl_s", "must be > 0");
  check_optional_distribution(c, service.has_service_time(), service.service_time(), "token_service", "service_time");
}

const KindDescription kTokenService{
    .kind = v1::Node::TOKEN_SERVICE,
    .name = "token_service",
    .defaults =
        [](v1::Node& node) {
          if (!node.token_service().has_service_time())
            *node.mutable_token_service()->mutable_service_time() = constant_ms(5);
        },
    .check = check_token_service,
};
FLOWFRAME_KIND(kTokenService, make_token_service);

}  // namespace

}  // namespace flowframe
