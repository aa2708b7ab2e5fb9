#include "moedil/model/moe/block_moe.h"

#include <c10/util/Exception.h>

namespace moedil::model::moe {

BlockMoeImpl::BlockMoeImpl(const BlockMoeOptions& options_)
    : options(options_), mixture(options_.mixture()) {
  reset();
}

void BlockMoeImpl::reset() {
  const int64_t num_experts = options.mixture().num_experts();
  TORCH_CHECK(num_experts >= 1, "BlockMoe: num_experts ", num_experts, " must be >= 1");
  TORCH_CHECK(options.num_shared() >= 0, "BlockMoe: num_shared ", options.num_shared(),
              " must be >= 0");
  const BasicBlockOptions block = BasicBlockOptions(options.block()).moe(std::nullopt);
  router = register_module("router", Router(RouterOptions(block.in_channels(), num_experts)
                                                .top_k(options.mixture().top_k())
                                                .noise_std(options.noise_std())
                                                .expert_dropout(options.expert_dropout())));
  experts = register_module("experts", torch::nn::ModuleList());
  shared_experts = register_module("shared_experts", torch::nn::ModuleList());
  for (int64_t e = 0; e < num_experts; ++e) experts->push_back(BasicBlock(block));
  for (int64_t e = 0; e < options.num_shared(); ++e) shared_experts->push_back(BasicBlock(block));
  mixture = Mixture(options.mixture());
}

at::Tensor BlockMoeImpl::forward(const at::Tensor& x) { return run(x, /*dense=*/false); }

at::Tensor BlockMoeImpl::forward_dense(const at::Tensor& x) { return run(x, /*dense=*/true); }

at::Tensor BlockMoeImpl::run(const at::Tensor& x, bool dense) {
  TORCH_CHECK(x.dim() == 4, "BlockMoe: expected images [B, C, H, W], got ", x.sizes());
  const Routing routing = router(x.mean({2, 3}));  // one decision per image, on [B, in]
  const ExpertFn expert = [this](int64_t e, const at::Tensor& rows) {
    return experts[static_cast<std::size_t>(e)]->as<BasicBlock>()->forward(rows);
  };
  at::Tensor out = mixture.forward(routing, x, expert, is_training(), dense);
  for (const auto& shared : *shared_experts) out = out + shared->as<BasicBlock>()->forward(x);
  return out;
}

}  // namespace moedil::model::moe
