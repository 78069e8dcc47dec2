// The problem type of a classification head, named as in Hugging Face's
// PretrainedConfig.problem_type. Shared by the datasets (what a label is) and the models (which
// loss applies), which may not include each other.
#ifndef DS_PROBLEM_TYPE_H
#define DS_PROBLEM_TYPE_H

typedef enum ds_problem_type {
    DS_PROBLEM_SINGLE_LABEL = 0,  // "single_label_classification": one class id per example, cross-entropy
    DS_PROBLEM_MULTI_LABEL,       // "multi_label_classification": a set of class ids, BCE with logits
    DS_PROBLEM_REGRESSION,        // "regression": float targets, MSE
    DS_PROBLEM_COUNT
} ds_problem_type;

#endif
