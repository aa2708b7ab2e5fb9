#pragma once
// The predecessor's names (GitHub scaleoutsystems/continous-MoE), read with their meaning before
// a config is validated: its model and dataset aliases and its learning-rate key.
//   model.name   moe_vit -> vit_moe; vit_switch_moe, switch_moe, vit_switch -> switch_moe_vit;
//                vit_moe_img -> vit_moe_imagelevel; resnetNN-cifar -> resnetNN with
//                resnet_stem "cifar" (unless given); any letter case (the predecessor
//                lower-cased model names)
//   vit_moe_imagelevel   its keys that changed nothing there (auxiliary terms without
//                gradient, temperature, sampling) are type-checked and dropped with a note;
//                moe_layer_indices null or another string = every block
//   scheduler    cosine with T_max (and no per_domain) -> cosine_annealing, per_domain false
//   dataset      officehomedataset, officehome_10072016, office-home -> officehome
//   loss.lr      the learning rate (the predecessor read it there and ignored optimizer.lr):
//                moved to optimizer.lr; both set to different values is a problem
//   seed         (top level) seeds.global when that is left out; ignored when it is given
//   null         for mini_dataset, router_lr_multiplier, scheduler.T_max, model.num_classes,
//                model.img_size, model.pretrained_vit(_tiny_path), baseline.accuracies,
//                pretrain_scheduler.name: the default (the predecessor's None)
//   router_balance_strength null   no balance loss; refused with router_balancing true
//   model.pretrained, model.pretrained_vit(_tiny_path)   read by config/pretrained.h: what
//                loaded nothing there (the ViT families' pretrained, pretrained_vit true) starts
//                at random with a note, what loaded weights reads them under weights_dir
//   vit_switch_moe and aliases   always the pretrained ViT-S/16 (pretrained_vit "small"),
//                expert_depth 4, freeze_shared, LayerNorm eps 1e-6, as there;
//                prototype_init_file refused (prototype_init_dataset computes them)
//   pretrained_vit_moe_head, pretrained_vit_proto_moe, vit_moe_proto -> vit_prototype_heads:
//                always ViT-S/16 (pretrained_vit "small"), prototype_ema -> ema_alpha (default
//                0.99; 1 when router_lr_multiplier <= 0, which froze its prototypes),
//                use_global_classification -> head_mixing; freeze_encoder (never applied),
//                pretrained, use_attraction/repulsion/consistency, loss_weights and
//                repulsion_margin (terms without gradient) dropped with a note
//   model.num_experts   model.moe_num_unshared_experts (vit_moe's factory ignored it, and
//                       the image-level keys: dropped there with a note)
//   baseline.train   (the only baseline key the predecessor read) decides baseline.enabled;
//                    its baselines trained epochs_per_domain epochs (baseline.epochs)
//   pretrain.epochs  left out: epochs_per_domain, as there
//   warmup_epochs, warmup_starting_LR (top level)   read by no predecessor code: dropped
//   augmentation.random_crop, random_flip   random_crop_padding 4, horizontal_flip
//   replay.policy random   reservoir; a replay block without mode or ratio gets a note (its
//                separate memory batch is replay.mode "separate", the default then)
//   dataset imagenet, imagenette   imagefolder at <dataset_root>/imagenet or /imagenette2
//                (domainIncremental on them refused: they had no domains)
//   vit_moe with moe_top_k 0 or 0 routed experts   one shared expert: vit; several (or one with
//                an LR factor): 0 routed experts, top_k 0 (the layer sums its shared experts)
//   model.moe_unshared_lr_multipliers, moe_shared_lr_multipliers (numbers -> lists),
//                moe_shared_lr_multiplier (the shared list when that is left out)
// Torch-free.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/config/resolve.h"

namespace moedil::config {

/// Rewrites the predecessor's names and values in `j` (a whole config object) to moedil's, in
/// place, and returns the problems found (path and message; the line is filled in by the
/// caller). Appends to `notes` one line per key whose predecessor meaning a user porting a
/// config should know. Leaves anything it does not recognise for validation to judge.
std::vector<ConfigIssue> apply_predecessor_names(nlohmann::json& j,
                                                 std::vector<std::string>& notes);

/// The moedil model name for a predecessor alias (any case), or "" when `name` is none.
std::string model_alias(const std::string& name);

/// The moedil dataset name for a predecessor alias, or "" when `name` is none.
std::string dataset_alias(const std::string& name);

}  // namespace moedil::config
