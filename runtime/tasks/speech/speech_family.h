// The speech recognition family (task.type "speech_ctc"): Wav2Vec2ForCTC with Hugging Face
// semantics, on the CPU backend. See runtime/tasks/task.h and docs/speech.md.
#ifndef DS_SPEECH_FAMILY_H
#define DS_SPEECH_FAMILY_H

#include "../task.h"

extern const ds_task_family ds_speech_task_family;

#endif
