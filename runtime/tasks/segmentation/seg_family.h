// Semantic segmentation with torchvision's DeepLabV3-ResNet50/101 behind the task table
// (runtime/tasks/task.h): task.type "segmentation". docs/segmentation.md describes the data
// layouts, keys, recipe, metrics, predict and export.
#ifndef DS_SEG_FAMILY_H
#define DS_SEG_FAMILY_H

#include "../task.h"

extern const ds_task_family ds_seg_task_family;

#endif
