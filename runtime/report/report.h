// `downstream report RUN_DIR`: one self-contained HTML page about a training run (no network, no
// JavaScript, no external CSS: inline SVG charts and one <style>), from the files the run left
// (runtime/train/run_files.h): metrics.jsonl (loss, learning rate, gradient norm, evaluation
// metrics, throughput, data wait), config.json, eval_dev.json / eval_test.json (metrics, per-class
// table, confusion matrix as a heat map) and samples.jsonl (sample predictions: texts, images,
// transcripts with word-level differences). Parts whose file is missing are left out, said so.
#ifndef DS_REPORT_H
#define DS_REPORT_H

#include "../base/status.h"

// Writes the page for run_dir to out_path (atomically). DS_ERR_IO when run_dir has no
// metrics.jsonl (not a run directory), naming it.
ds_status ds_report_write(const char *run_dir, const char *out_path, ds_err *err);

#endif
