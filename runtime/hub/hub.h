// Pretrained weights from where users keep them: a local path, a Hugging Face Hub repository, or a
// torchvision weight. model.path may be
//   - a local file or directory that exists: used as it is;
//   - a Hub repository id "org/name", optionally "org/name@revision" (a branch, tag or commit);
//   - a torchvision weight "arch.WEIGHTS" ("deeplabv3_resnet50.COCO_WITH_VOC_LABELS_V1",
//     "resnet50.IMAGENET1K_V1", "resnet50.DEFAULT") or the URL torchvision downloads it from
//     ("https://download.pytorch.org/models/resnet50-0676ba61.pth").
// Downloads go into the caches the Python libraries use, in their layouts, so that each side finds
// the other's files:
//   Hugging Face  $HF_HUB_CACHE (default $HF_HOME/hub, default ~/.cache/huggingface/hub):
//                 models--org--name/blobs/<etag>, snapshots/<commit>/<file> -> ../../blobs/<etag>,
//                 refs/<revision> holding the commit, .no_exist/<commit>/<file> for absent files;
//   torchvision   $TORCH_HOME/hub/checkpoints/<file> (default ~/.cache/torch/hub/checkpoints).
// Only the files the model family needs are fetched (hub_files.c). Downloads resume (HTTP Range
// on blobs/<etag>.incomplete, checkpoints/<file>.partial), are verified (an LFS file's SHA-256 is
// its ETag; a torchvision file name carries the first hex digits of its SHA-256, checked as
// torch.hub's check_hash does) and show a progress bar on a terminal (plain lines otherwise).
// Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (else the file
// $HF_HOME/token) sent as "Authorization: Bearer" to the Hub only, HF_HUB_OFFLINE=1: the caches
// only, no network (for torchvision too). A network failure falls back to what the cache holds.
#ifndef DS_HUB_H
#define DS_HUB_H

#include <stddef.h>

#include "../base/log.h"
#include "../base/status.h"

// The one call a model family makes before it opens model.path: turns `model_path` into a local
// path in `local` (cap bytes): the path itself when it exists, else the snapshot directory of a
// Hub repository (with the family's files) or the torchvision checkpoint file. `family` is the
// task.type whose files to fetch ("text_classification": BERT, "speech_ctc": Wav2Vec2), or NULL
// to choose by the repository's config.json (model_type). log may be NULL (quiet). Errors name
// what was asked, the URL or the cache path, and say what to do (a gated repository: the token; no
// network: which files to put where).
ds_status ds_hub_resolve(const ds_log *log, const char *model_path, const char *family, char *local, size_t cap,
                         ds_err *err);

// Whether model_path would be looked up remotely (not an existing local path, and shaped as a Hub
// id, a torchvision weight name or an http(s) URL).
int ds_hub_is_remote(const char *model_path);

#endif
