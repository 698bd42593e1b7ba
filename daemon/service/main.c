// SPDX-License-Identifier: MIT
/* accel-broker: owns the accelerator devices and brokers their queues. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <accel/accel.h>

#include "backend.h"
#include "broker.h"
#include "config.h"
#include "dbus_api.h"
#include "fdstore.h"
#include "log.h"
#include "manager.h"
#include "peer.h"
#include "resolver.h"
#include "server.h"
#include "settings.h"
#include "sim_engine.h"
#include "util.h"
#include "varlink_api.h"

struct options {
	const char *socket_path;
	const char *config_path;
	bool config_given;
	const char *sysfs_root;
	const char *dev_root;
	struct config cli;	/* CONFIG_UNSET where the command line says nothing */
};

static void help(void)
{
	printf("Usage: accel-broker [OPTIONS]\n"
	       "Own the accelerator devices and hand their queues out to local programs.\n\n"
	       "  --socket PATH             listen on PATH (default %s)\n"
	       "  --config PATH             configuration file (default %s)\n"
	       "  --sim N                   software devices (default: 2 if no uacce device, 0 disables)\n"
	       "  --sim-queues N            queues per software device (default 16)\n"
	       "  --engine-threads N        software engine threads at start (default: one per core)\n"
	       "  --max-queues-per-user N   queues one uid may hold (default 16)\n"
	       "  --max-connections-per-user N  connections one uid may open (default 64)\n"
	       "  --sysfs-root PATH         where uacce devices are listed (default /sys/class/uacce)\n"
	       "  --dev-root PATH           where their nodes are (default /dev)\n"
	       "  --log-level LEVEL         err, warning, notice, info or debug (default info)\n"
	       "  -h, --help                show this help\n"
	       "  --version                 show the version\n",
	       ACCEL_DEFAULT_SOCKET, CONFIG_DEFAULT_PATH);
}

enum {
	OPT_SOCKET = 0x100, OPT_CONFIG, OPT_SIM, OPT_SIM_QUEUES, OPT_ENGINE_THREADS,
	OPT_MAX_QUEUES, OPT_MAX_CONNECTIONS, OPT_SYSFS_ROOT, OPT_DEV_ROOT, OPT_LOG_LEVEL,
	OPT_VERSION,
};

static int number_option(const char *name, const char *value, int min, int max, int *out)
{
	if (parse_int_range(value, min, max, out) < 0) {
		fprintf(stderr, "accel-broker: --%s: \"%s\" is not a number from %d to %d\n",
			name, value, min, max);
		return -EINVAL;
	}
	return 0;
}

static int log_level_option(const char *value)
{
	int level = log_level_from_string(value);

	if (level < 0) {
		fprintf(stderr, "accel-broker: --log-level: unknown level \"%s\"\n", value);
		return level;
	}
	log_set_level(level);
	return 0;
}

/* Take option @c: 0, 1 to exit successfully now (--help, --version), or a negative errno. */
static int apply_option(int c, const char *arg, struct options *o)
{
	switch (c) {
	case OPT_SOCKET: o->socket_path = arg; return 0;
	case OPT_CONFIG: o->config_path = arg; o->config_given = true; return 0;
	case OPT_SIM: return number_option("sim", arg, 0, 64, &o->cli.sim_devices);
	case OPT_SIM_QUEUES: return number_option("sim-queues", arg, 1, 4096, &o->cli.sim_queues);
	case OPT_ENGINE_THREADS: return number_option("engine-threads", arg, 1, 256, &o->cli.engine_threads);
	case OPT_MAX_QUEUES:
		return number_option("max-queues-per-user", arg, 0, 65536, &o->cli.max_queues_per_user);
	case OPT_MAX_CONNECTIONS:
		return number_option("max-connections-per-user", arg, 1, 65536, &o->cli.max_connections_per_user);
	case OPT_SYSFS_ROOT: o->sysfs_root = arg; return 0;
	case OPT_DEV_ROOT: o->dev_root = arg; return 0;
	case OPT_LOG_LEVEL: return log_level_option(arg);
	case 'h': help(); return 1;
	case OPT_VERSION: printf("accel-broker %s\n", ACCEL_VERSION); return 1;
	default: return -EINVAL;
	}
}

/* Returns 1 to run, 0 to exit successfully (--help), or a negative errno. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option long_options[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "sim", required_argument, NULL, OPT_SIM },
		{ "sim-queues", required_argument, NULL, OPT_SIM_QUEUES },
		{ "engine-threads", required_argument, NULL, OPT_ENGINE_THREADS },
		{ "max-queues-per-user", required_argument, NULL, OPT_MAX_QUEUES },
		{ "max-connections-per-user", required_argument, NULL, OPT_MAX_CONNECTIONS },
		{ "sysfs-root", required_argument, NULL, OPT_SYSFS_ROOT },
		{ "dev-root", required_argument, NULL, OPT_DEV_ROOT },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	int c, r;

	*o = (struct options){
		.socket_path = ACCEL_DEFAULT_SOCKET,
		.config_path = CONFIG_DEFAULT_PATH,
		.sysfs_root = "/sys/class/uacce",
		.dev_root = "/dev",
	};
	config_init_unset(&o->cli);
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) >= 0) {
		r = apply_option(c, optarg, o);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	if (optind < argc) {
		fprintf(stderr, "accel-broker: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

/* Everything the running broker is made of, in start-up order. */
struct service {
	struct settings settings;
	sd_event *event;
	struct broker broker;
	bool broker_up;
	struct sim_engine *engine;
	struct manager manager;
	struct resolver *resolver;	/* the user database, off the loop: the listeners' */
	struct broker_watcher fdstore;	/* follows the queues when systemd keeps them */
	bool fdstore_followed;
	struct dbus_api dbus;
	struct server server;
};

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)userdata;
	log_info("Received %s, stopping", strsignal((int)si->ssi_signo));
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* READY=1 with the STATUS= line systemctl status shows. */
static void notify_ready(struct broker *b)
{
	sd_notifyf(0, "READY=1\nSTATUS=Serving %u devices, %u queues held", broker_device_count(b),
		   broker_active_queues(b));
}

/* A SIGHUP's reload is done (the manager logged what went wrong; the old settings stay). */
static void sighup_reloaded(int r, const struct accel_error *e, void *userdata)
{
	struct service *svc = userdata;

	(void)r;
	(void)e;
	notify_ready(&svc->broker);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct service *svc = userdata;
	struct accel_error e = { 0 };

	(void)s;
	(void)si;
	log_info("Received SIGHUP, reloading the configuration");
	sd_notify(0, "RELOADING=1");
	/* No caller to cancel for: the job goes with the resolver at exit. */
	if (manager_reload(&svc->manager, sighup_reloaded, svc, NULL, &e) < 0) {
		log_error("Configuration not reloaded: %s", e.message);
		notify_ready(&svc->broker);
	}
	return 0;
}

/* Before any thread exists, so that every thread inherits the mask. */
static void block_signals(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
}

static int watch_signals(struct service *svc)
{
	int r;

	/* WATCHDOG=1 from the loop itself, at half of WatchdogSec=: a stuck loop is restarted. */
	r = sd_event_set_watchdog(svc->event, true);
	if (r < 0)
		log_warning_errno(r, "Could not set up the watchdog");
	if ((r = sd_event_add_signal(svc->event, NULL, SIGTERM, on_signal, NULL)) < 0 ||
	    (r = sd_event_add_signal(svc->event, NULL, SIGINT, on_signal, NULL)) < 0 ||
	    (r = sd_event_add_signal(svc->event, NULL, SIGHUP, on_sighup, svc)) < 0)
		return log_error_errno(r, "Could not watch signals");
	return 0;
}

static int setup_devices(struct broker *b, const struct options *o, const struct config *cfg,
			 struct sim_engine **engine)
{
	struct device_changes found;
	int n_uacce, n_sim, r;

	r = backend_uacce_rescan(&b->devices, o->sysfs_root, o->dev_root, &found);
	n_uacce = (int)broker_apply_device_changes(b, &found);
	if (r < 0)
		return r;
	n_sim = cfg->sim_devices != CONFIG_UNSET ? cfg->sim_devices : (n_uacce == 0 ? 2 : 0);
	if (n_sim == 0)
		return 0;
	r = sim_engine_create(cfg->engine_threads != CONFIG_UNSET ? (unsigned)cfg->engine_threads
								   : (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
			      engine);
	if (r < 0)
		return r;
	r = backend_sim_create_devices(*engine, (unsigned)n_sim, (unsigned)cfg->sim_queues, &found);
	if (r < 0)
		return r;
	broker_apply_device_changes(b, &found);
	return 0;
}

/*
 * The listening socket and, after a restart, the queues handed out before;
 * then the listeners, each handed the manager's reload for its Reload.
 */
static int start_listeners(struct service *svc, const struct options *o)
{
	const struct listener_reload reload = { .start = manager_on_reload, .data = &svc->manager };
	int listen_fd, r;

	r = resolver_create(svc->event, &svc->resolver);
	if (r < 0)
		return log_error_errno(r, "Could not start the user database's thread");
	svc->manager.resolver = svc->resolver;
	peer_cgroup_init();	/* before adopting: adopted queues' owners are read by it too */
	if (fdstore_available()) {
		fdstore_follow(&svc->broker, &svc->fdstore);
		svc->fdstore_followed = true;
	}
	listen_fd = fdstore_take_passed(&svc->broker, svc->resolver);
	if (listen_fd < 0 && listen_fd != -ENOENT)
		return listen_fd;
	r = dbus_api_init(&svc->dbus, svc->event, &svc->broker, &reload);
	if (r < 0)
		return r;
	svc->dbus.resolver = svc->resolver;
	r = server_init(&svc->server, svc->event, &svc->broker, o->socket_path, listen_fd,
			varlink_api_dispatch, &reload);
	svc->server.resolver = svc->resolver;
	return r;
}

static int service_start(struct service *svc, const struct options *o)
{
	struct broker_limits limits;
	int r;

	settings_limits(&svc->settings.cfg, &limits);
	broker_init(&svc->broker, &limits, svc->event);
	svc->broker_up = true;
	broker_set_policy(&svc->broker, &svc->settings.policy, false);
	r = watch_signals(svc);
	if (r < 0)
		return r;
	r = setup_devices(&svc->broker, o, &svc->settings.cfg, &svc->engine);
	if (r < 0)
		return r;
	r = manager_init(&svc->manager, svc->event, &svc->broker, &svc->settings, o->sysfs_root, o->dev_root);
	if (r < 0)
		return r;
	return start_listeners(svc, o);
}

/*
 * Queues first (kept in the fd store, or revoked while the watchers can
 * still hear it), then connections, devices, the engine.
 */
static void service_stop(struct service *svc)
{
	if (svc->broker_up)
		broker_shutdown(&svc->broker);
	server_finish(&svc->server);
	dbus_api_finish(&svc->dbus);
	resolver_free(svc->resolver);	/* after the listeners: their calls waiting are cancelled */
	manager_finish(&svc->manager);
	if (svc->fdstore_followed)
		broker_unwatch(&svc->fdstore);
	if (svc->broker_up)
		broker_finish(&svc->broker);
	sim_engine_destroy(svc->engine);
	settings_finish(&svc->settings);
	sd_event_unref(svc->event);
}

static int run(const struct options *o)
{
	struct service svc = {
		.settings = { .path = o->config_path, .must_exist = o->config_given, .cli = o->cli },
		.server = { .listen_fd = -1 },
	};
	int r;

	r = settings_load(&svc.settings);
	if (r < 0)
		return r;
	block_signals();
	r = sd_event_default(&svc.event);
	if (r < 0) {
		settings_finish(&svc.settings);
		return log_error_errno(r, "Could not create the event loop");
	}
	r = service_start(&svc, o);
	if (r >= 0) {
		notify_ready(&svc.broker);
		log_info("accel-broker %s ready", ACCEL_VERSION);
		r = sd_event_loop(svc.event);
		if (r < 0)
			log_error_errno(r, "Event loop failed");
		sd_notify(0, "STOPPING=1");
	}
	service_stop(&svc);
	return r;
}

int main(int argc, char **argv)
{
	struct options o;
	int r = parse_options(argc, argv, &o);

	if (r <= 0)
		return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	return run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
