#include "dist_setup.h"

#include "../base/check.h"

ds_status ds_dist_world(const ds_config *cfg, ds_world *w, ds_err *err) {
    ds_launcher want = DS_LAUNCHER_AUTO;
    const char *name = ds_config_str(cfg, "dist.launcher");
    DS_REQUIRE(err, ds_launcher_parse(name, &want), DS_ERR_CONFIG, "dist.launcher: unknown launcher '%s'", name);
    return ds_world_from_environment(want, w, err);
}

ds_status ds_dist_comm_options(const ds_config *cfg, ds_comm_options *o, ds_err *err) {
    *o = ds_comm_options_default();
    const char *backend = ds_config_str(cfg, "dist.backend");
    DS_REQUIRE(err, ds_comm_backend_parse(backend, &o->backend), DS_ERR_CONFIG, "dist.backend: unknown backend '%s'",
               backend);
    const char *boot = ds_config_str(cfg, "dist.bootstrap");
    DS_REQUIRE(err, ds_bootstrap_parse(boot, &o->bootstrap), DS_ERR_CONFIG, "dist.bootstrap: unknown method '%s'",
               boot);
    o->bootstrap_file = ds_config_str(cfg, "dist.bootstrap_file");
    o->timeout_s = ds_config_float(cfg, "dist.timeout_s");
    return DS_OK;
}

ds_status ds_dist_start(const ds_config *cfg, const ds_log *log, ds_world *w, ds_comm **comm, ds_err *err) {
    *comm = NULL;
    DS_TRY(ds_dist_world(cfg, w, err));
    ds_comm_options o;
    DS_TRY(ds_dist_comm_options(cfg, &o, err));
    return ds_comm_open(w, &o, log, comm, err);
}
