// A model family for trainer tests only (not in the registry): a linear model over ragged
// sequences of TOY_D features with a token-mean squared error, so that the loss weight (tokens)
// differs from micro-batch to micro-batch and from rank to rank. Its block has every kind: a frozen
// input scale, trainable w (lr group 1) and b (lr multiplier 10), and two buffers updated by every
// training forward: a counter (I64) and a running mean of the predictions over the global
// micro-batch, taken through the collective hook as SyncBatchNorm takes its statistics (so the
// family declares batch_statistics). Data: TOY_TRAIN training and 10 dev sequences, fixed.
#ifndef DS_TOY_FAMILY_H
#define DS_TOY_FAMILY_H

#include "../runtime/tasks/task.h"

#define TOY_D 3
#define TOY_TRAIN 40

extern const ds_task_family ds_toy_family;

#endif
