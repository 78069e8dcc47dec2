// Shared by the deeplab model's files: the parameter layout (also used to check a checkpoint's
// tensors against it) and the list of conv units.
#ifndef DS_DEEPLAB_INTERNAL_H
#define DS_DEEPLAB_INTERNAL_H

#include "deeplab.h"

// Upper bound of the specs of a model of cfg.
int ds_deeplab_spec_capacity(const ds_deeplab_config *cfg);

// Lays out the model of cfg: the backbone's, head's and aux head's geometry and their specs in
// torchvision's order at specs[0..*count). Sets m->backbone (allocated), m->head, m->auxh and the
// first_* indices; m->cfg must hold cfg.
ds_status ds_deeplab_layout(ds_deeplab_model *m, ds_param_spec *specs, int *count, ds_err *err);

// Validates cfg; the message names the field.
ds_status ds_deeplab_check_config(const ds_deeplab_config *cfg, ds_err *err);

// Every conv unit of the model in spec order, with whether it belongs to the backbone; returns
// the count (at most cap written).
int ds_deeplab_units(const ds_deeplab_model *m, const ds_conv_bn **units, bool *backbone, int cap);

#endif
