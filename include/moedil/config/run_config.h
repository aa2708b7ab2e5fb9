#pragma once
// The typed configuration of one run. Torch-free so it compiles fast and can be used by every
// area. Every field has a default; configs/example.jsonc documents every key. The JSON keys are
// the field names (they follow the Python predecessor so its configs port with few edits).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moedil::config {

/// How the dataset is split into domains (`partition`).
struct PartitionConfig {
  /// "rotate": one domain per angle, each the same base images rotated;
  /// "domainIncremental": whole domains from the dataset's domain ids; "dirichlet", "static",
  /// "random_assignment": class-mix partitions of the samples (the predecessor's "random" is
  /// static); "permute", "noise": transform domains.
  std::string type = "rotate";
  /// Rotation angles in degrees, one domain each (rotate only).
  std::vector<double> angles{0.0, 30.0, 60.0, 90.0, 120.0};
  /// Gaussian noise standard deviations on the [0, 1] pixel scale, one domain each (noise only).
  std::vector<double> levels{0.0, 0.1, 0.2, 0.3, 0.4};
  /// dirichlet: concentration of the per-class partition proportions (small = skewed).
  double alpha = 0.5;
  /// dirichlet: every partition needs at least this many samples; redraw otherwise.
  int64_t min_size = 1;
  /// dirichlet: redraws before giving up with an error.
  int64_t retries = 100;
  /// dirichlet: equal partition sizes (proportions only decide the class mix).
  bool balanced = false;
};

/// Whole-batch image augmentation in training (`augmentation`), seeded by seeds.loader. Each
/// image draws its own parameters; the steps run in the predecessor's order: random resized
/// crop, padded crop, flip, colour jitter, blur, noise.
struct AugmentationConfig {
  /// The predecessor's RandomResizedCrop(S, scale (0.8, 1), ratio (1, 1)): a square of 80 to
  /// 100 % of the area at a random place, resized back (bilinear) to S = crop_size.
  bool random_resize_crop = false;
  int64_t random_crop_padding = 0;  ///< pad by this many pixels, crop back at a random offset
  bool horizontal_flip = false;     ///< flip each image with probability 0.5
  /// The predecessor's ColorJitter(0.2, 0.2, 0.2, 0.05): brightness, contrast, saturation
  /// factors in [0.8, 1.2] and a hue shift in [-0.05, 0.05], in a random order per image.
  bool color_jitter = false;
  /// The predecessor's GaussianBlur(3, sigma in [0.1, 2]) on every image (reflect padding).
  bool blur = false;
  /// The predecessor's noise: N(0, 0.01^2) added on the [0, 1] scale, not clamped.
  bool noise = false;
  /// `augmentation.resize`, the predecessor's crop side S (its default 32 applies to its
  /// configs: with random_crop or random_resize_crop and no resize). Given (> 0) with a crop on,
  /// it must be the images' side (moedil trains and tests at one size); 0 = the images' side.
  int64_t crop_size = 0;
};

/// Model family and its options (`model`); each family reads its keys (model_families.h).
struct ModelConfig {
  std::string name = "vit_moe";
  /// The predecessor's model.num_classes and model.img_size: checked against the dataset when
  /// it is loaded (the class count; the side of the images the model sees), a mismatch is an
  /// error. 0 (left out or null) = the dataset's.
  int64_t num_classes = 0;
  int64_t img_size = 0;
  // ViT options shared by the ViT families (a small ViT that fits the default dataset;
  // vit_moe_imagelevel left out takes its predecessor factory's, config/resolve.cpp).
  int64_t patch_size = 7;
  int64_t embed_dim = 64;
  int64_t depth = 4;
  int64_t num_heads = 4;
  double mlp_ratio = 2.0;
  double dropout = 0.0;
  /// eps of the LayerNorms of vit, vit_moe and hetero_moe; 0 = the family's: 1e-6 for vit (as
  /// torchvision's and timm's ViTs, so their weights give their logits), 1e-5 for the MoE ViTs
  /// (LibTorch's default, the predecessor's nn.LayerNorm).
  double layer_norm_eps = 0.0;
  /// Initial weights: a file of named tensors (a moedil checkpoint.pt or saved module, or a
  /// PyTorch state dict saved with torch.save); empty = random initialisation.
  std::string init_weights;
  /// A pretrained start (config/pretrained.h): the weights file's path, or empty. In JSON also
  /// true (the family's documented file under weights_dir) or false. Loaded as init_weights is,
  /// and a missing file names the command that exports it. MoE experts start as copies of the
  /// file's dense MLPs / upper blocks (upcycling); a head of another class count is replaced.
  std::string pretrained;
  /// MoE families: std of the Gaussian noise added to each expert copied from a dense tensor of
  /// the weights file (pretrained or init_weights), relative to that tensor's std; 0 = exact
  /// copies.
  double upcycle_noise = 0.0;
  /// Transfer: every parameter outside the classifier head(s), the routers and the MoE experts
  /// gets no gradient (BatchNorm statistics still follow the data).
  bool freeze_backbone = false;
  // MoE options (vit_moe).
  /// Which blocks get an MoE MLP: explicit list of block indices. In JSON either a list,
  /// "every_other" (1, 3, 5, ...) or "all"; resolved to the list here.
  std::vector<int64_t> moe_layer_indices{1, 3};
  /// vit_moe: 0, with moe_top_k 0, is the predecessor's shared-experts-only layer (no router;
  /// the layer is the plain sum of its moe_num_shared_experts experts).
  int64_t moe_num_unshared_experts = 4;
  /// Always-on experts of every MoE layer, added unweighted.
  int64_t moe_num_shared_experts = 0;
  int64_t moe_top_k = 1;
  /// vit_moe (the predecessor's per-expert LR): routed / shared expert e of every MoE layer
  /// trains at lr * moe_expert_lr_multiplier * factor, factor = list[min(e, size - 1)]; empty
  /// = 1. JSON: a number (every expert) or a list.
  std::vector<double> moe_unshared_lr_multipliers;
  std::vector<double> moe_shared_lr_multipliers;
  /// "token" (the predecessor's vit_moe): each token routed on its own; "sample": one routing
  /// decision per image and layer, taken from moe_route_on.
  std::string moe_routing_granularity = "token";
  /// vit and vit_moe, the predecessor's meaning: the model has a CLS token, which the head
  /// reads. false: no CLS token, positions for the patches only, the head reads the mean of the
  /// final tokens (and sample routing the token mean).
  bool moe_route_with_cls_token = true;
  /// Sample routing's input (vit_moe, hetero_moe): "cls" (the CLS token) or "mean" (the mean of
  /// the tokens). Without a CLS token only "mean", which it then defaults to.
  std::string moe_route_on = "cls";
  /// vit_moe: the gates of the chosen experts. "renormalized" (the predecessor's): their router
  /// probabilities divided by their sum, so a top-1 gate is 1 and only balance losses train the
  /// router; "probability": top-1 keeps the chosen probability (Switch), so the task loss trains
  /// the router too (k > 1 renormalises either way).
  std::string moe_gate = "renormalized";
  /// Training only: Gaussian noise (this std) on the router logits before the top-k.
  double moe_noise_std = 0.0;
  /// Expert capacity C = ceil(factor * rows * k / experts); rows over capacity are dropped
  /// (they pass through the residual). In JSON a number > 0, or null (the default: unlimited
  /// for token_choice, factor 1 for expert_choice), stored here as 0.
  double moe_capacity_factor = 0.0;
  /// "token_choice": rows pick their top-k experts; "expert_choice": each expert its top-C rows.
  std::string moe_routing = "token_choice";
  /// Training only: probability that an expert is unavailable for a step.
  double moe_expert_dropout = 0.0;
  /// Balance losses summed, each with its weight, into the layer's aux loss (then scaled by
  /// router_balance_strength); the names are model::moe::balance_loss_registry()'s
  /// (`moedil list`).
  /// vit_moe's default is the predecessor's (mean_prob_mse); a config of another routed family
  /// that leaves the key out gets {"switch": 1} (config/resolve.cpp).
  std::map<std::string, double> moe_balance_losses{{"mean_prob_mse", 1.0}};
  // ResNet and ConvNeXt families.
  /// resnet18*: "cifar" (3x3 stride-1 conv) or "imagenet" (7x7 stride-2 conv + max pool) stem.
  std::string resnet_stem = "cifar";
  /// resnet18*: width w of the first stage (stages w, 2w, 4w, 8w; 64 is the standard ResNet-18).
  int64_t resnet_width = 16;
  /// resnet18_conv_moe / resnet18_block_moe: stages (0..3) whose convs / blocks are MoE layers.
  std::vector<int64_t> resnet_moe_stages{3};
  /// convnext_tiny: blocks per stage (4 values; paper 3, 3, 9, 3).
  std::vector<int64_t> convnext_depths{3, 3, 9, 3};
  /// convnext_tiny: width per stage (4 values; paper 96, 192, 384, 768).
  std::vector<int64_t> convnext_dims{32, 64, 128, 256};
  /// convnext_tiny: stem conv kernel = stride (paper 4); at most the image size.
  int64_t convnext_stem_patch = 2;
  // hetero_moe
  /// The experts of every hetero_moe layer, one kind each: "mlp" (token MLP), "conv" (3x3
  /// convolution over the patch grid) or "attention" (self-attention over the tokens).
  std::vector<std::string> hetero_experts{"mlp", "conv", "attention"};
  // vit_moe_centroid and switch_moe_vit
  /// vit_moe_centroid: KEEP rates of the fast and slow expert centroids' EMA, in [0, 1] (as
  /// the predecessor): c <- alpha c + (1 - alpha) m. 1 never moves a centroid; 0 makes it the
  /// batch mean. The predecessor's defaults.
  double alpha_fast = 0.8;
  double alpha_slow = 0.99;
  /// vit_moe_centroid: routing softmax temperature, annealed linearly within each domain
  /// from start (epoch 0) to end (epoch anneal_epochs and later); > 0.
  double temperature_start = 1.0;
  double temperature_end = 0.1;
  /// vit_moe_centroid: epochs over which temperature and KL balance weight anneal (>= 1).
  int64_t anneal_epochs = 5;
  /// vit_moe_centroid: weights (>= 0) of the auxiliary losses added to the model's aux loss.
  double repulsion_weight = 0.1;
  double alignment_weight = 0.1;
  double consistency_weight = 0.1;
  /// vit_moe_centroid: weight of KL(mean routing || uniform), annealed like the temperature.
  double kl_balance_weight_start = 1.0;
  double kl_balance_weight_end = 0.1;
  /// switch_moe_vit: blocks in each expert (the upper ones); depth - expert_depth are shared.
  int64_t expert_depth = 2;
  /// switch_moe_vit: no gradient for patch embedding, CLS, positions and the shared blocks.
  bool freeze_shared = false;
  /// switch_moe_vit and vit_prototype_heads: KEEP rate of the routing prototypes' EMA, in
  /// [0, 1] (as the predecessor): p <- ema_alpha p + (1 - ema_alpha) f. 1: they never move.
  double ema_alpha = 0.9;
  /// switch_moe_vit, as the predecessor: the routing score is routing_alpha * cos(token mean,
  /// mean prototype) + (1 - routing_alpha) * cos(token std, std prototype), in [0, 1]. -1 (config
  /// null): moedil's cosine of the concatenated [mean, std] to the whole prototype.
  double routing_alpha = 0.3;
  /// switch_moe_vit, the predecessor's: a folder of domain folders of class folders (its raw
  /// OfficeHome folder, say). Prototype i starts as the routing feature (mean and std of the
  /// patch tokens after the shared blocks) averaged over the first image (by file name) of each
  /// class of the i-th domain folder (by name), decoded and normalised as the dataset is. ""
  /// = the first training batch's features.
  std::string prototype_init_dataset;
  /// switch_moe_vit: the block whose output prototype_init_dataset's features come from; only
  /// the routing layer, the last shared block (depth - expert_depth - 1, the predecessor's 7),
  /// is accepted. -1 = that block.
  int64_t prototype_init_layer = -1;
  /// vit_prototype_heads: softmax temperature (> 0) of the cosine scores to the prototypes. It
  /// weights the heads under head_mixing "weighted"; the argmax choice does not depend on it.
  double router_temperature = 0.1;
  /// vit_prototype_heads: "selected" (the nearest prototype's head alone, gate 1) or "weighted"
  /// (every head, weighted by the softmax of the scores: the predecessor's
  /// use_global_classification).
  std::string head_mixing = "selected";
};

/// Expert merging (`expert_merging`): every every_steps training steps of a domain, each MoE
/// layer's least selected expert (selections counted since the domain started) is overwritten
/// by the average of its two most selected experts, and its optimizer state is reset.
struct ExpertMergingConfig {
  bool enabled = false;
  int64_t every_steps = 100;
};

/// Notification (`notify`): a JSON POST to a webhook (Discord, Slack, any HTTP endpoint) when
/// the run ends with one of the outcomes in `on` (io/webhook.h). A run started by `moedil batch`
/// leaves it to the batch, which sends one summary (its metaconfig's `notify`).
struct NotifyConfig {
  std::string webhook_url;  ///< empty: no notification
  std::vector<std::string> on{"completed", "failed", "interrupted"};
};

/// Optimizer (`optimizer`): sgd, adam or adamw.
struct OptimizerConfig {
  std::string name = "adam";
  double lr = 1e-3;
  /// Left out of the config: LibTorch's (and PyTorch's, so the predecessor's) default for the
  /// optimizer, 0.01 for adamw and 0 for sgd and adam. run.json records the value used.
  double weight_decay = 0.0;
  double momentum = 0.9;  ///< sgd only
  bool nesterov = false;  ///< sgd only
};

/// Training loss (`loss`).
struct LossConfig {
  /// cross_entropy | focal | weighted_cross_entropy
  std::string name = "cross_entropy";
  double label_smoothing = 0.0;  ///< cross_entropy
  double gamma = 2.0;            ///< focal: focusing exponent
  /// focal class weights: "none", "auto" (inverse class frequency of the current domain,
  /// normalised to mean 1) or "list" (alpha_values, one per class). JSON: null, "auto" or a list.
  std::string alpha = "none";
  std::vector<double> alpha_values;
  /// weighted_cross_entropy: weights = inverse class frequency (normalised to mean 1), capped.
  double weight_upper_limit = 10.0;
  /// weighted_cross_entropy, the predecessor's meaning: at every domain's start the weights
  /// become the average of the previous weights (1 before the first domain) and the new ones.
  bool weight_cumulative = false;
  /// weighted_cross_entropy: the class counts the new weights come from: "domain" (the current
  /// domain's training labels) or "all_domains" (those of every domain so far; moedil's
  /// weight_cumulative before run.json schema 5).
  std::string weight_counts = "domain";
  /// The predecessor's loss.weighted, read by none of its losses: it changes nothing here
  /// either (weighted_cross_entropy is always weighted, cross_entropy never).
  bool weighted = true;
};

/// Learning-rate schedule (`scheduler`), evaluated once per epoch.
struct SchedulerConfig {
  std::string name = "none";  ///< none | step | cosine | cosine_annealing | linear | linear_lr
  /// Linear warm-up: epoch w < warmup_epochs uses lr * (w + 1) / (warmup_epochs + 1), below lr
  /// for every warm-up epoch; the schedule proper spans the epochs after it.
  int64_t warmup_epochs = 0;
  /// true: the schedule restarts with every domain; false: one schedule over the whole stream.
  bool per_domain = true;
  int64_t step_size = 1;  ///< step: multiply by gamma every step_size epochs
  double gamma = 0.1;     ///< step
  double min_lr = 0.0;    ///< cosine and linear: the lr they end at
  /// cosine_annealing (torch's CosineAnnealingLR, the predecessor's "cosine" with T_max): the
  /// half period in epochs; 0 (or null) = epochs_per_domain.
  int64_t T_max = 0;
  /// linear_lr (torch's LinearLR, the predecessor's linear): the lr factor goes from
  /// start_factor to end_factor over total_iters epochs of the schedule and stays there;
  /// total_iters 0 (or null) = epochs_per_domain.
  double start_factor = 0.1;
  double end_factor = 1.0;
  int64_t total_iters = 0;
};

/// Experience replay (`replay`): a memory of the training samples seen so far (filled after
/// every step with the step's new samples), replayed in every later step.
struct ReplayConfig {
  bool enabled = false;
  int64_t capacity = 1000;  ///< samples kept
  /// fifo | reservoir | class_balanced (the predecessor's "random" is reservoir)
  std::string policy = "reservoir";
  /// "separate" (the predecessor's): every step also draws min(B, memory size) distinct memory
  /// samples, B the step's new samples, runs them through the model on their own, and adds their
  /// mean training loss to the batch's (loss = L(batch) + L(memory batch)). "mixed" (moedil's):
  /// round(ratio * batch_size) samples drawn from memory (with replacement) are appended to the
  /// batch, one mean loss over both. Left out: "mixed" when ratio is given, else "separate".
  std::string mode = "separate";
  /// Replayed samples per new sample (mode mixed; also the draws of der, derpp and agem).
  double ratio = 0.5;
};

/// Continual-learning strategies (`strategy`: a name or a list of names, each a trainer plugin;
/// empty = plain fine-tuning) and their settings (`ewc`, `lwf`, `der`, `agem`). DER, DER++ and
/// A-GEM keep their own memory with replay.capacity and replay.policy, and draw
/// round(replay.ratio * batch_size) memory samples per step; `replay.enabled` only decides
/// whether memory samples are also mixed into the batches (experience replay).
struct StrategyConfig {
  std::vector<std::string> names;
  /// Online EWC (Schwarz et al. 2018): penalty lambda/2 * sum F (theta - theta*)^2 with the
  /// running Fisher F := gamma F + F_domain after every domain.
  double ewc_lambda = 100.0;
  double ewc_gamma = 1.0;
  /// LwF (Li & Hoiem 2016): alpha * T^2 * KL(softmax(old/T) || softmax(new/T)) to the model
  /// as it was at the end of the previous domain.
  double lwf_alpha = 1.0;
  double lwf_temperature = 2.0;
  /// DER (Buzzega et al. 2020): alpha * MSE(logits of memory samples, their stored logits);
  /// DER++ adds beta * cross-entropy on a second memory batch.
  double der_alpha = 0.5;
  double der_beta = 0.5;
};

/// Pretraining before the first domain (`pretrain`).
struct PretrainConfig {
  bool enabled = false;
  /// Samples drawn; 0 = no pretraining (as the predecessor, which ran it only with samples to
  /// draw).
  int64_t num_samples = 1000;
  bool with_replacement = false;
  /// "dataset" (the predecessor's): min(num_samples, N) drawn uniformly from the whole dataset
  /// before partitioning; without replacement they leave the data the domains are made of, and
  /// train_frac shrinks by num_samples / N. "class_balanced" (moedil's): an equal share per
  /// class from the domains' training splits, which keep them.
  std::string draw = "dataset";
  int64_t epochs = 1;
  /// `pretrain_scheduler` (the predecessor's, a torch LinearLR stepped per pretraining epoch):
  /// "none" or "linear": pretraining epoch e trains at lr * (start_factor + (end_factor -
  /// start_factor) * min(e, total_iters) / total_iters); total_iters 0 = epochs_per_domain.
  std::string scheduler = "none";
  double start_factor = 0.1;
  double end_factor = 1.0;
  int64_t total_iters = 0;
};

/// Per-domain baselines (`baseline`): a model trained from the post-pretrain weights on each
/// domain alone; used by FWT and intransience.
struct BaselineConfig {
  bool enabled = false;
  /// The predecessor's baseline.accuracies: per-domain baseline accuracies measured before,
  /// used instead of training baselines (then `enabled` is false); empty = none.
  std::vector<double> accuracies;
  /// The baselines' MoE expert LR multiplier (the predecessor's model.moe_expert_lr_multiplier,
  /// which only its baselines read); -1 (null) = moe_expert_lr_multiplier, as the main run.
  double expert_lr_multiplier = -1.0;
  int64_t epochs = 1;
};

/// Every random source takes its seed from here. A seed left out of the config takes `global`
/// (and `global` left out: the top-level `seed`, else 0). Unseeded, with the predecessor's
/// meaning: a global of 0, "random" or null and a kind of "random" are drawn from the system's
/// entropy (common/random.h entropy_seed); a kind of 0 or null takes `global` (the predecessor
/// did not reseed it). The resolved config holds the drawn values, and so does run.json.
struct SeedsConfig {
  /// `seeds.zero_is_a_seed` (moedil's own key; written to run.json where a seed is 0): a 0 in
  /// this config is the seed 0, not unseeded. The seeds left out of a config are the seed 0.
  bool zero_is_a_seed = true;
  /// The kinds ("global", "model", ...) drawn as unseeded by this resolve; not written.
  std::vector<std::string> drawn;
  int64_t global = 0;
  int64_t dataset = 0;    ///< mini_dataset subsampling
  int64_t partition = 0;  ///< train/test split within domains
  int64_t loader = 0;     ///< batch shuffling
  int64_t model = 0;      ///< weight initialisation
  int64_t training = 0;   ///< dropout, router noise
  int64_t pretrain = 0;   ///< pretraining sample draw and order
  int64_t baseline = 0;   ///< baseline models' batch order
  int64_t replay = 0;     ///< replay memory and replay batches
};

/// One run, resolved: every default filled in, every value validated.
struct RunConfig {
  std::string dataset = "fashion_mnist";
  /// Folder holding the dataset files; empty = the dataset's default location.
  std::string dataset_root;
  /// Keep this many images of the dataset (train and test pooled) before partitioning; 0 = all.
  int64_t mini_dataset = 0;
  /// Domains to use, in order (names such as "Art" or "s3"; for CORe50 also session numbers).
  /// Empty = all of the dataset's domains in their natural order.
  std::vector<std::string> settings;
  /// Domains held out from training and evaluated as extra test domains (CORe50 protocol:
  /// ["s3", "s7", "s10"]).
  std::vector<std::string> test_settings;
  /// Square side images are resized to when decoded (0 = the dataset's own size).
  int64_t resize = 0;
  /// Folder for decoded-image caches ("" = no cache); a cache is rebuilt when its source
  /// folder changes.
  std::string cache_dir;
  /// An image that fails to decode: "error" (names the file) or "skip" (counted and logged).
  std::string on_bad_image = "error";
  /// cifar100: "fine" (100 classes) or "coarse" (20 superclasses).
  std::string cifar100_labels = "fine";
  /// core50: "object" (50 classes) or "category" (10 classes).
  std::string core50_labels = "object";
  /// "partition": train_frac split inside each domain; "dataset": the dataset's own test set.
  std::string test_split = "partition";
  /// Which of the dataset's own splits are read: "all" (every image it ships) or "train" (its
  /// training split only, as the predecessor read CIFAR-10; mini_dataset then draws from it).
  std::string dataset_split = "all";
  AugmentationConfig augmentation;
  int64_t num_partitions = 5;
  PartitionConfig partition;
  /// Fraction of each domain used for training; the rest is its test split.
  double train_frac = 0.8;
  int64_t batch_size = 128;
  /// Batch size of evaluations (larger is faster; results do not depend on it, except that an
  /// MoE capacity applies per batch).
  int64_t eval_batch_size = 256;
  bool shuffle = true;
  ModelConfig model;
  OptimizerConfig optimizer;
  LossConfig loss;
  SchedulerConfig scheduler;
  int64_t epochs_per_domain = 1;
  ReplayConfig replay;
  StrategyConfig strategy;
  PretrainConfig pretrain;
  BaselineConfig baseline;
  /// Add every MoE layer's balance losses (model.moe_balance_losses), weighted by
  /// router_balance_strength (the predecessor's defaults: false and 0.1).
  bool router_balancing = false;
  double router_balance_strength = 0.1;
  /// The balance weight, as the predecessor: router_balance_max (when < 0, i.e. config null or
  /// left out: router_balance_strength) with router_balance_anneal_epochs A = 0; with A > 0 it
  /// anneals from that max to router_balance_min by router_balance_schedule.
  int64_t router_balance_anneal_epochs = 0;
  double router_balance_max = -1.0;
  double router_balance_min = 0.0;
  /// "cosine" (the predecessor's): min + (max - min) (1 + cos(pi min(g / A, 1))) / 2 over the
  /// global epoch g (pretraining epochs first, never reset per domain). "linear_per_domain"
  /// (moedil's): linear from max at each domain's first epoch to min at its epoch A and later.
  std::string router_balance_schedule = "cosine";
  /// The predecessor's router freezing: the routers train in global epochs 0..N (pretraining
  /// epochs counted first, never reset per domain) and are frozen from global epoch N + 1 on,
  /// for the rest of the run. -1 (config: null or left out) = never. Config alias
  /// router_freeze_after_batches (the predecessor's other name, also in epochs).
  int64_t router_freeze_after_epochs = -1;
  /// moedil's per-domain freezing: the routers are frozen from epoch N of every domain on and
  /// each domain starts with them trainable again; 0 = never.
  int64_t router_freeze_per_domain_after_epochs = 0;
  /// Learning-rate multipliers of the router and of the MoE experts' parameters (own parameter
  /// groups); router_lr_multiplier 0 freezes the routers.
  double router_lr_multiplier = 1.0;
  double moe_expert_lr_multiplier = 1.0;
  /// Transfer: learning-rate multiplier of the backbone, every parameter outside the classifier
  /// heads, the routers and the MoE experts (the ones model.freeze_backbone freezes); its own
  /// parameter group when not 1. 0 keeps the backbone where it started.
  double backbone_lr_multiplier = 1.0;
  /// The predecessor's router_lr_multiplier_after_epochs (alias _after_batches): at the end
  /// of that global epoch it set the routers' LR to the current LR times router_lr_multiplier,
  /// which is what moedil's router LR always is: recorded, it changes nothing. -1 = null.
  int64_t router_lr_multiplier_after_epochs = -1;
  ExpertMergingConfig expert_merging;
  NotifyConfig notify;
  /// Per-epoch writers: "csv" (metrics.csv, always: resume keeps it in step with the
  /// checkpoint) and "tensorboard" (event files in <run dir>/tensorboard).
  std::vector<std::string> loggers = {"csv"};
  SeedsConfig seeds;
  /// "auto" (cuda:0 when available, else cpu), "cpu", "cuda", "cuda:N".
  std::string device = "auto";
  /// Mixed precision of the forward passes: "none" (float) or "bf16" (autocast to bfloat16 on
  /// the training device; weights, gradients and optimizer state stay float).
  std::string amp = "none";
  /// Intra-op threads; 0 = all cores.
  int64_t num_threads = 0;
  /// The predecessor's num_workers (its data-loader processes): threads that decode image
  /// files; 0 = num_threads. Results do not depend on it.
  int64_t num_workers = 0;
  /// Where model.pretrained: true and pretrained_vit look for weights files; left out:
  /// $MOEDIL_WEIGHTS, else datasets/weights (run.json records the folder used).
  std::string weights_dir = "datasets/weights";
  std::string results_dir = "results";
  std::string log_dir = "logs";
  /// Name of the config (file stem); results go to results_dir/<config_name>/<run id>/.
  /// Not a JSON key: set by the loader.
  std::string config_name = "config";
  /// Not JSON keys: one line per predecessor key whose meaning a user porting a config should
  /// know (read as the predecessor did, but maybe not what was meant); logged by a run,
  /// printed by `moedil validate --explain`.
  std::vector<std::string> notes;
};

}  // namespace moedil::config
