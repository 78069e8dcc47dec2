// libsndfile decoding, mono mix and resampling (see audio_read.h).
#include "audio_read.h"

#include <errno.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../runtime/base/check.h"

ds_audio_read_options ds_audio_read_defaults(void) {
    return (ds_audio_read_options){
        .target_rate = DS_AUDIO_DEFAULT_RATE, .max_seconds = DS_AUDIO_DEFAULT_MAX_SECONDS, .quality = DS_RESAMPLE_HQ};
}

void ds_audio_free(ds_audio *a) {
    free(a->samples);
    *a = (ds_audio){0};
}

static const char *subtype_name(int subtype) {
    switch (subtype) {
    case SF_FORMAT_PCM_S8: return "PCM_S8";
    case SF_FORMAT_PCM_U8: return "PCM_U8";
    case SF_FORMAT_PCM_16: return "PCM_16";
    case SF_FORMAT_PCM_24: return "PCM_24";
    case SF_FORMAT_PCM_32: return "PCM_32";
    case SF_FORMAT_FLOAT: return "FLOAT";
    case SF_FORMAT_DOUBLE: return "DOUBLE";
    case SF_FORMAT_ULAW: return "ULAW";
    case SF_FORMAT_ALAW: return "ALAW";
    case SF_FORMAT_VORBIS: return "VORBIS";
    case SF_FORMAT_OPUS: return "OPUS";
    default: return NULL;
    }
}

// soundfile's name of a major format (its _formats table), or NULL.
static const char *major_name(int major) {
    switch (major) {
    case SF_FORMAT_WAV: return "WAV";
    case SF_FORMAT_AIFF: return "AIFF";
    case SF_FORMAT_AU: return "AU";
    case SF_FORMAT_RAW: return "RAW";
    case SF_FORMAT_PAF: return "PAF";
    case SF_FORMAT_SVX: return "SVX";
    case SF_FORMAT_NIST: return "NIST";
    case SF_FORMAT_VOC: return "VOC";
    case SF_FORMAT_IRCAM: return "IRCAM";
    case SF_FORMAT_W64: return "W64";
    case SF_FORMAT_MAT4: return "MAT4";
    case SF_FORMAT_MAT5: return "MAT5";
    case SF_FORMAT_PVF: return "PVF";
    case SF_FORMAT_XI: return "XI";
    case SF_FORMAT_HTK: return "HTK";
    case SF_FORMAT_SDS: return "SDS";
    case SF_FORMAT_AVR: return "AVR";
    case SF_FORMAT_WAVEX: return "WAVEX";
    case SF_FORMAT_SD2: return "SD2";
    case SF_FORMAT_FLAC: return "FLAC";
    case SF_FORMAT_CAF: return "CAF";
    case SF_FORMAT_WVE: return "WVE";
    case SF_FORMAT_OGG: return "OGG";
    case SF_FORMAT_MPC2K: return "MPC2K";
    case SF_FORMAT_RF64: return "RF64";
    default: return NULL;
    }
}

// "WAV PCM_16", "FLAC PCM_24", "OGG VORBIS", ...: soundfile's names (info.format, info.subtype)
// for the common formats, libsndfile's own descriptions for the rest.
static void format_name(int format, char *buf, size_t cap) {
    SF_FORMAT_INFO major = {.format = format & SF_FORMAT_TYPEMASK};
    SF_FORMAT_INFO sub = {.format = format & SF_FORMAT_SUBMASK};
    const char *m = major_name(format & SF_FORMAT_TYPEMASK);
    if (m == NULL) m = sf_command(NULL, SFC_GET_FORMAT_INFO, &major, sizeof major) == 0 ? major.name : "?";
    const char *s = subtype_name(format & SF_FORMAT_SUBMASK);
    if (s == NULL) s = sf_command(NULL, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0 ? sub.name : "?";
    snprintf(buf, cap, "%s %s", m, s);
}

// Opens path for reading; every failure becomes a message that names the file and the cause.
static ds_status open_audio(const char *path, SNDFILE **out, SF_INFO *info, ds_err *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return ds_err_set(err, DS_ERR_IO, "audio %s: cannot open: %s", path, strerror(errno));
    DS_REQUIRE(err, S_ISREG(st.st_mode), DS_ERR_IO, "audio %s: not a regular file", path);
    DS_REQUIRE(err, st.st_size > 0, DS_ERR_UNSUPPORTED, "audio %s: empty file (0 bytes)", path);
    memset(info, 0, sizeof *info);
    SNDFILE *f = sf_open(path, SFM_READ, info);
    if (f == NULL) {
        const int code = sf_error(NULL);
        const char *why = sf_strerror(NULL);
        switch (code) {
        case SF_ERR_UNRECOGNISED_FORMAT:
            return ds_err_set(err, DS_ERR_UNSUPPORTED,
                              "audio %s: unsupported or unrecognised format (%s); readable: WAV, FLAC, OGG/Vorbis and the "
                              "other formats of libsndfile",
                              path, why);
        case SF_ERR_UNSUPPORTED_ENCODING:
            return ds_err_set(err, DS_ERR_UNSUPPORTED, "audio %s: unsupported encoding (%s)", path, why);
        case SF_ERR_SYSTEM:
            return ds_err_set(err, DS_ERR_IO, "audio %s: cannot read: %s", path, why);
        default:
            return ds_err_set(err, DS_ERR_FORMAT, "audio %s: malformed, truncated or corrupt file (%s)", path, why);
        }
    }
    *out = f;
    return DS_OK;
}

// Bytes of one frame of a WAV subtype (1 for the compressed ones: any missing byte counts).
static int frame_bytes(const SF_INFO *info) {
    int b = 1;
    switch (info->format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_16: b = 2; break;
    case SF_FORMAT_PCM_24: b = 3; break;
    case SF_FORMAT_PCM_32: case SF_FORMAT_FLOAT: b = 4; break;
    case SF_FORMAT_DOUBLE: b = 8; break;
    default: break;
    }
    return b * info->channels;
}

// libsndfile shortens a WAV whose data chunk runs past the end of the file to what is there and
// says so only in its log ("data : 32000 (should be 15978)"); when a frame is lost (whole or in
// part) that is a truncated file, an error here. Streamed WAVs that announce 0 or 0xFFFFFFFF bytes
// (length unknown when written) are not.
static ds_status check_wav_truncation(const char *path, SNDFILE *f, const SF_INFO *info, ds_err *err) {
    const int major = info->format & SF_FORMAT_TYPEMASK;
    if (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX && major != SF_FORMAT_RF64) return DS_OK;
    char log[4096];
    log[0] = '\0';
    sf_command(f, SFC_GET_LOG_INFO, log, sizeof log);
    for (const char *p = log; (p = strstr(p, "data :")) != NULL; p++) {
        if (p != log && p[-1] != '\n') continue;
        long long said = 0, real = 0;
        if (sscanf(p, "data : %lld (should be %lld)", &said, &real) == 2 && said / frame_bytes(info) > real / frame_bytes(info) &&
            said != 0xFFFFFFFFLL && said != 0xFFFFFFFELL)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "audio %s: truncated WAV: the header announces %lld data bytes, the file holds %lld", path,
                              said, real);
    }
    return DS_OK;
}

static ds_status probe_open(const char *path, SNDFILE **f, SF_INFO *sf, ds_audio_info *info, ds_err *err) {
    DS_TRY(open_audio(path, f, sf, err));
    ds_status s = check_wav_truncation(path, *f, sf, err);
    if (s == DS_OK && (sf->samplerate <= 0 || sf->channels <= 0))
        s = ds_err_set(err, DS_ERR_FORMAT, "audio %s: header has %d Hz and %d channels", path, sf->samplerate,
                       sf->channels);
    if (s == DS_OK && sf->frames <= 0)
        s = ds_err_set(err, DS_ERR_FORMAT, "audio %s: zero-length audio (no frames)", path);
    if (s != DS_OK) {
        sf_close(*f);
        *f = NULL;
        return s;
    }
    memset(info, 0, sizeof *info);
    info->frames = sf->frames;
    info->sample_rate = sf->samplerate;
    info->channels = sf->channels;
    info->format = sf->format;
    info->seconds = (double)sf->frames / sf->samplerate;
    format_name(sf->format, info->format_name, sizeof info->format_name);
    return DS_OK;
}

ds_status ds_audio_probe(const char *path, ds_audio_info *info, ds_err *err) {
    SNDFILE *f = NULL;
    SF_INFO sf;
    DS_TRY(probe_open(path, &f, &sf, info, err));
    sf_close(f);
    return DS_OK;
}

// Decodes every frame of the open file and mixes the channels into mono[0, frames).
static ds_status decode_all(const char *path, SNDFILE *f, const ds_audio_info *info, float *mono, ds_err *err) {
    enum { CHUNK = 8192 };  // frames per sf_readf_float call
    const int C = info->channels;
    float *buf = malloc((size_t)CHUNK * (size_t)C * sizeof *buf);  // (CHUNK, C) interleaved
    if (buf == NULL) return ds_err_set(err, DS_ERR_OOM, "audio %s: out of memory for the decode buffer", path);
    int64_t got = 0;
    while (got < info->frames) {
        const int64_t want = info->frames - got < CHUNK ? info->frames - got : CHUNK;
        const sf_count_t n = sf_readf_float(f, buf, want);
        if (n <= 0) break;
        for (sf_count_t t = 0; t < n; t++) {
            double sum = 0.0;
            for (int c = 0; c < C; c++) sum += buf[t * C + c];
            mono[got + t] = C == 1 ? buf[t] : (float)(sum / C);
        }
        got += n;
    }
    free(buf);
    if (sf_error(f) != SF_ERR_NO_ERROR)
        return ds_err_set(err, DS_ERR_FORMAT, "audio %s: truncated or corrupt: decoder error after frame %lld: %s",
                          path, (long long)got, sf_strerror(f));
    if (got < info->frames)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "audio %s: truncated or corrupt: decoded %lld of the %lld frames the header announces", path,
                          (long long)got, (long long)info->frames);
    return DS_OK;
}

ds_status ds_audio_decode_mono(const char *path, double max_seconds, ds_audio *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    SNDFILE *f = NULL;
    SF_INFO sf;
    ds_audio_info info;
    DS_TRY(probe_open(path, &f, &sf, &info, err));
    ds_status s = DS_OK;
    if (max_seconds > 0 && info.seconds > max_seconds)
        s = ds_err_set(err, DS_ERR_INVALID_ARG, "audio %s: %.1f s long, over the cap of %g s (raise the audio length cap "
                       "to read it)", path, info.seconds, max_seconds);
    float *mono = NULL;
    if (s == DS_OK) {
        mono = malloc((size_t)info.frames * sizeof *mono);
        if (mono == NULL)
            s = ds_err_set(err, DS_ERR_OOM, "audio %s: out of memory for %lld frames", path, (long long)info.frames);
    }
    if (s == DS_OK) s = decode_all(path, f, &info, mono, err);
    sf_close(f);
    if (s != DS_OK) {
        free(mono);
        return s;
    }
    *out = (ds_audio){.samples = mono, .n = info.frames, .sample_rate = info.sample_rate,
                      .source_rate = info.sample_rate, .source_channels = info.channels};
    return DS_OK;
}

ds_status ds_audio_read(const char *path, const ds_audio_read_options *opt, ds_audio *out, ds_err *err) {
    DS_TRY(ds_audio_decode_mono(path, opt->max_seconds, out, err));
    if (opt->target_rate <= 0 || opt->target_rate == out->sample_rate) return DS_OK;
    float *y = NULL;
    int64_t n = 0;
    ds_status s = ds_resample(out->samples, out->n, out->sample_rate, opt->target_rate, opt->quality, path, &y, &n, err);
    if (s != DS_OK) {
        ds_audio_free(out);
        return s;
    }
    free(out->samples);
    out->samples = y;
    out->n = n;
    out->sample_rate = opt->target_rate;
    return DS_OK;
}
