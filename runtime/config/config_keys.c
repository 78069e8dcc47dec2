// THE table of config keys: the one place a key is declared. Adding a key is adding one line;
// the parser, `downstream help config` and the README reference (scripts/update_config_doc.sh)
// follow. Keys of one section stay together (the printed config nests them in this order).
// Defaults and bounds are text, parsed like `--set` values; tests/cpu/test_config.c checks them.
#include "config.h"

static const ds_config_key k_keys[] = {
    // path                 type           default  bounds / choices                  doc
    {"run.seed",            DS_CFG_INT,    "0",     .min = "0",                        .doc = "base seed of every random stream"},
    {"run.device",          DS_CFG_STRING, "auto",                                     .doc = "auto (CUDA when a usable device is visible, else the CPU; the log says which and why), cpu, cuda (this rank's GPU), or cuda:N"},
    {"run.precision",       DS_CFG_ENUM,   "auto",  .choices = "auto|fp32|bf16",        .doc = "activations: auto is bf16 mixed precision on CUDA (fp32 master weights, gradients and moments) and fp32 on the CPU; fp32 on CUDA runs with TF32 off"},
    {"run.kernels",         DS_CFG_ENUM,   "plain", .choices = "plain|fast",            .doc = "CUDA custom kernels: plain (simple, the reference) or fast (tensor cores, tiling)"},
    {"run.attention",       DS_CFG_ENUM,   "own",   .choices = "own|cudnn",             .doc = "CUDA attention: downstream's own kernels or cuDNN's fused SDPA"},
    {"run.conv",            DS_CFG_ENUM,   "own",   .choices = "own|cudnn|auto",        .doc = "CUDA convolutions: downstream's own implicit GEMM, cuDNN (its fastest deterministic algorithm per shape), or auto (both timed once per shape, the faster kept)"},
    {"run.ctc",             DS_CFG_ENUM,   "own",   .choices = "own|cudnn",             .doc = "CUDA CTC loss: downstream's own kernels (extended-range, near double precision), or cuDNN's (fp32 log space; F32 only, at most 255 labels per utterance, other cases run the own kernels)"},
    {"run.deterministic",   DS_CFG_BOOL,   "true",                                     .doc = "CUDA: no float atomics, identical results run to run (bit-exact resume); false may be faster"},
    {"run.log_level",       DS_CFG_ENUM,   "info",  .choices = "error|warn|info|debug", .doc = "log verbosity (--quiet sets warn, --verbose debug)"},
    {"run.threads",         DS_CFG_INT,    "0",     .min = "0",                        .doc = "CPU threads; 0 = all cores"},

    {"task.type",           DS_CFG_STRING, "text_classification",                      .doc = "model family of the run: text_classification (BERT classifiers), segmentation (torchvision DeepLabV3), speech_ctc (Hugging Face Wav2Vec2ForCTC); the keys of each family's own follow below"},

    {"bench.batch",         DS_CFG_INT,    "8",     .min = "1",                        .doc = "sequences per batch"},
    {"bench.seq_len",       DS_CFG_INT,    "128",   .min = "1",                        .doc = "tokens per sequence"},
    {"bench.hidden",        DS_CFG_INT,    "384",   .min = "1",                        .doc = "hidden size of the benchmarked encoder layer"},
    {"bench.heads",         DS_CFG_INT,    "12",    .min = "1",                        .doc = "attention heads (must divide bench.hidden)"},
    {"bench.intermediate",  DS_CFG_INT,    "1536",  .min = "1",                        .doc = "feed-forward inner size"},
    {"bench.layers",        DS_CFG_INT,    "1",     .min = "1",                        .doc = "encoder layers stacked"},
    {"bench.vocab",         DS_CFG_INT,    "30522", .min = "2",                        .doc = "CUDA: vocabulary of the benchmarked BERT classifier (the whole model runs there; the CPU times the encoder stack)"},
    {"bench.num_labels",    DS_CFG_INT,    "2",     .min = "1",                        .doc = "CUDA: classes of the benchmarked classifier"},
    {"bench.warmup",        DS_CFG_INT,    "2",     .min = "0",                        .doc = "untimed iterations before timing"},
    {"bench.repeats",       DS_CFG_INT,    "10",    .min = "1",                        .doc = "timed iterations"},
    {"bench.gemm_check",    DS_CFG_BOOL,   "true",                                     .doc = "time a (4096x384)x(384x1536) product and check it against a plain loop"},

    {"model.path",          DS_CFG_STRING, "",                                         .doc = "Hugging Face BERT directory: config.json, model.safetensors, vocab.txt (tokenizer_config.json)"},
    {"model.problem_type",  DS_CFG_ENUM,   "single_label_classification", .choices = "single_label_classification|multi_label_classification|regression", .doc = "loss: cross-entropy, BCE with logits, or MSE"},
    {"model.max_length",    DS_CFG_INT,    "128",   .min = "2",                        .doc = "tokens per example after truncation, [CLS] and [SEP] included"},
    {"model.dropout",       DS_CFG_FLOAT,  "-1",    .min = "-1", .max = "0.99",        .doc = "replaces every dropout probability of config.json (hidden, attention, classifier) during training; -1 keeps them"},

    {"data.train",          DS_CFG_STRING, "",                                         .doc = "training file (CSV, TSV or JSONL)"},
    {"data.dev",            DS_CFG_STRING, "",                                         .doc = "dev file; empty: split from data.train by data.split"},
    {"data.test",           DS_CFG_STRING, "",                                         .doc = "test file; empty: split from data.train by data.split"},
    {"data.split",          DS_CFG_STRING, "0.8,0.1,0.1",                              .doc = "train,dev,test fractions of data.train when dev/test files are not given"},
    {"data.stratified",     DS_CFG_BOOL,   "false",                                    .doc = "keep each label's share in every part of the split"},
    {"data.format",         DS_CFG_ENUM,   "auto",  .choices = "auto|csv|tsv|jsonl",   .doc = "file format; auto: from the extension"},
    {"data.header",         DS_CFG_BOOL,   "true",                                     .doc = "CSV/TSV: the first record names the columns (else fields are 0-based column numbers)"},
    {"data.text_field",     DS_CFG_STRING, "text",                                     .doc = "field (column name, JSON key or column number) holding the text"},
    {"data.text_pair_field", DS_CFG_STRING, "",                                        .doc = "field holding the second text of a sentence pair; empty: single texts"},
    {"data.label_field",    DS_CFG_STRING, "label",                                    .doc = "field holding the label"},
    {"data.labels",         DS_CFG_STRING, "",                                         .doc = "comma-separated label list (label i gets id i); empty: discovered in the training data"},
    {"data.label_separator", DS_CFG_STRING, "|",                                       .doc = "between the labels of one multi-label cell"},
    {"data.skip_bad_rows",  DS_CFG_BOOL,   "false",                                    .doc = "skip and count malformed rows instead of stopping with an error"},
    {"data.num_workers",    DS_CFG_INT,    "2",     .min = "0", .max = "64",           .doc = "threads that assemble training batches ahead of the step; 0: in the training thread (same batches either way)"},
    {"data.prefetch_batches", DS_CFG_INT,  "4",     .min = "1", .max = "1024",         .doc = "training batch buffers in the loader's ring: batches ready ahead at most"},
    {"data.drop_last",      DS_CFG_BOOL,   "false",                                    .doc = "drop the last incomplete global batch of each epoch (torch's DataLoader drop_last); forced on for models with batch statistics (BatchNorm), as torchvision's recipe"},
    {"data.group_by_length", DS_CFG_BOOL,  "false",                                    .doc = "sort each mega-batch of 50 shuffled training batches by length so batches pad less (as HF's group_by_length)"},

    {"train.output_dir",    DS_CFG_STRING, "runs/default",                             .doc = "checkpoints, the metrics log and the exported model go here"},
    {"train.epochs",        DS_CFG_FLOAT,  "3",     .min = "0",                        .doc = "passes over the training data (fractions allowed)"},
    {"train.max_steps",     DS_CFG_INT,    "0",     .min = "0",                        .doc = "optimizer steps; 0: from train.epochs"},
    {"train.batch_size",    DS_CFG_INT,    "32",    .min = "1",                        .doc = "examples per micro-batch"},
    {"train.grad_accum",    DS_CFG_INT,    "1",     .min = "1",                        .doc = "micro-batches per optimizer step"},
    {"train.lr",            DS_CFG_FLOAT,  "5e-5",  .min = "0",                        .doc = "peak learning rate"},
    {"train.optimizer",     DS_CFG_ENUM,   "adamw", .choices = "adamw|sgd",             .doc = "adamw (torch.optim.AdamW, HF's Trainer) or sgd (torch.optim.SGD with momentum, torchvision's segmentation recipe)"},
    {"train.momentum",      DS_CFG_FLOAT,  "0.9",   .min = "0", .max = "0.999999",     .doc = "SGD momentum (dampening 0); 0: plain SGD"},
    {"train.nesterov",      DS_CFG_BOOL,   "false",                                    .doc = "SGD with Nesterov momentum (needs train.momentum > 0)"},
    {"train.schedule",      DS_CFG_ENUM,   "linear", .choices = "linear|cosine|constant|poly", .doc = "decay after warm-up; poly is (1 - step/total)^train.poly_power (torch's PolynomialLR)"},
    {"train.poly_power",    DS_CFG_FLOAT,  "0.9",   .min = "0",                        .doc = "exponent of the poly schedule"},
    {"train.warmup_ratio",  DS_CFG_FLOAT,  "0.1",   .min = "0", .max = "1",            .doc = "warm-up steps as a fraction of all steps (train.warmup_steps wins when > 0)"},
    {"train.warmup_steps",  DS_CFG_INT,    "0",     .min = "0",                        .doc = "warm-up steps"},
    {"train.weight_decay",  DS_CFG_FLOAT,  "0.01",  .min = "0",                        .doc = "weight decay: AdamW's decoupled one, SGD's L2 term; on the tensors the model family says (BERT: never biases and LayerNorm weights)"},
    {"train.adam_beta1",    DS_CFG_FLOAT,  "0.9",   .min = "0", .max = "0.999999",     .doc = "AdamW beta1"},
    {"train.adam_beta2",    DS_CFG_FLOAT,  "0.999", .min = "0", .max = "0.999999",     .doc = "AdamW beta2"},
    {"train.adam_eps",      DS_CFG_FLOAT,  "1e-8",  .min = "0",                        .doc = "AdamW epsilon"},
    {"train.max_grad_norm", DS_CFG_FLOAT,  "1.0",   .min = "0",                        .doc = "clip the global gradient norm to this; 0: no clipping"},
    {"train.eval_every",    DS_CFG_INT,    "0",     .min = "0",                        .doc = "evaluate on dev every N optimizer steps; 0: at the end of each epoch"},
    {"train.metric",        DS_CFG_STRING, "",                                         .doc = "dev metric that picks the best checkpoint and drives early stopping, checked by the model family; empty: its default (text_classification: accuracy (default), macro_f1, loss; segmentation: miou (default), pixel_accuracy, loss; speech_ctc: wer (default), cer, loss)"},
    {"train.early_stopping", DS_CFG_INT,   "0",     .min = "0",                        .doc = "stop after N evaluations without improvement; 0: never"},
    {"train.keep_last",     DS_CFG_INT,    "1",     .min = "1",                        .doc = "training checkpoints kept besides the best one"},
    {"train.resume",        DS_CFG_ENUM,   "auto",  .choices = "false|true|auto",       .doc = "continue from the newest checkpoint in train.output_dir: true, false, or auto (resume when run by Slurm, e.g. after a preemption or requeue, and a checkpoint is there; otherwise start anew)"},
    {"train.requeue",       DS_CFG_BOOL,   "false",                                    .doc = "on SIGUSR1 or SIGTERM (Slurm's --signal, preemption): finish the step, write a checkpoint, then `scontrol requeue $SLURM_JOB_ID` before exiting"},
    {"train.nonfinite",     DS_CFG_ENUM,   "stop",  .choices = "stop|skip",             .doc = "a NaN or infinite loss or gradient: stop naming the first tensor that went non-finite, or skip the step (counted as skipped_steps in metrics.jsonl)"},
    {"train.stop_after",    DS_CFG_INT,    "0",     .min = "0",                        .doc = "end this run after N optimizer steps, with a checkpoint, keeping the schedule of the full run (resume later); 0: run to the end"},
    {"train.log_every",     DS_CFG_INT,    "10",    .min = "1",                        .doc = "metrics-log line every N optimizer steps"},
    {"train.tensorboard",   DS_CFG_BOOL,   "false",                                    .doc = "also write every metrics-log line as TensorBoard scalars (events.out.tfevents.* in train.output_dir)"},

    {"dist.launcher",       DS_CFG_ENUM,   "auto",  .choices = "auto|none|openmpi|torchrun|slurm", .doc = "where the rank and world size come from: auto finds mpirun's, torchrun-style or srun's variables (none: a single process)"},
    {"dist.backend",        DS_CFG_ENUM,   "auto",  .choices = "auto|mpi|tcp|nccl",    .doc = "communicator: auto is none for one rank, nccl on GPUs, mpi under mpirun/srun, tcp under a torchrun-style launch"},
    {"dist.bootstrap",      DS_CFG_ENUM,   "auto",  .choices = "auto|mpi|file|tcp",    .doc = "how NCCL's unique id travels: auto is file when dist.bootstrap_file is set, tcp under torchrun, else mpi"},
    {"dist.bootstrap_file", DS_CFG_STRING, "",                                         .doc = "for dist.bootstrap file: a path on a filesystem every rank sees"},
    {"dist.bucket_mb",      DS_CFG_FLOAT,  "25",    .min = "0.001",                    .doc = "gradient all-reduce bucket size in MB: buckets start while backward still runs"},
    {"dist.timeout_s",      DS_CFG_FLOAT,  "600",   .min = "0.1",                      .doc = "a rank that does not answer a collective within this many seconds makes the others fail naming it"},
};

const ds_config_key *ds_config_keys(int *count) {
    if (count) *count = (int)(sizeof k_keys / sizeof k_keys[0]);
    return k_keys;
}
