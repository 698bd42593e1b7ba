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
#include "hotplug.h"
#include "log.h"
#include "server.h"
#include "settings.h"
#include "sim_engine.h"
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
	if (config_parse_int(value, min, max, out) < 0) {
		fprintf(stderr, "accel-broker: --%s: \"%s\" is not a number from %d to %d\n",
			name, value, min, max);
		return -EINVAL;
	}
	return 0;
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
	int c, r = 0;

	*o = (struct options){
		.socket_path = ACCEL_DEFAULT_SOCKET,
		.config_path = CONFIG_DEFAULT_PATH,
		.sysfs_root = "/sys/class/uacce",
		.dev_root = "/dev",
	};
	config_init_unset(&o->cli);
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) >= 0) {
		switch (c) {
		case OPT_SOCKET: o->socket_path = optarg; break;
		case OPT_CONFIG: o->config_path = optarg; o->config_given = true; break;
		case OPT_SIM: r = number_option("sim", optarg, 0, 64, &o->cli.sim_devices); break;
		case OPT_SIM_QUEUES: r = number_option("sim-queues", optarg, 1, 4096, &o->cli.sim_queues); break;
		case OPT_ENGINE_THREADS:
			r = number_option("engine-threads", optarg, 1, 256, &o->cli.engine_threads);
			break;
		case OPT_MAX_QUEUES:
			r = number_option("max-queues-per-user", optarg, 0, 65536, &o->cli.max_queues_per_user);
			break;
		case OPT_MAX_CONNECTIONS:
			r = number_option("max-connections-per-user", optarg, 1, 65536,
					  &o->cli.max_connections_per_user);
			break;
		case OPT_SYSFS_ROOT: o->sysfs_root = optarg; break;
		case OPT_DEV_ROOT: o->dev_root = optarg; break;
		case OPT_LOG_LEVEL:
			r = log_level_from_string(optarg);
			if (r < 0) {
				fprintf(stderr, "accel-broker: --log-level: unknown level \"%s\"\n", optarg);
				break;
			}
			log_set_level(r);
			r = 0;
			break;
		case 'h': help(); return 0;
		case OPT_VERSION: printf("accel-broker %s\n", ACCEL_VERSION); return 0;
		default: return -EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "accel-broker: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

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

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct broker *b = userdata;
	struct accel_error e = { 0 };

	(void)s;
	(void)si;
	log_info("Received SIGHUP, reloading the configuration");
	sd_notify(0, "RELOADING=1");
	broker_reload(b, NULL, &e);	/* logs what went wrong; the old settings stay */
	notify_ready(b);
	return 0;
}

static int setup_devices(struct broker *b, const struct options *o, const struct config *cfg,
			 struct sim_engine **engine)
{
	int n_uacce, n_sim, r;

	n_uacce = backend_uacce_add_devices(b, o->sysfs_root, o->dev_root);
	if (n_uacce < 0)
		return n_uacce;
	n_sim = cfg->sim_devices != CONFIG_UNSET ? cfg->sim_devices : (n_uacce == 0 ? 2 : 0);
	if (n_sim == 0)
		return 0;
	r = sim_engine_create(cfg->engine_threads != CONFIG_UNSET ? (unsigned)cfg->engine_threads
								   : (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
			      engine);
	if (r < 0)
		return r;
	return backend_sim_add_devices(b, *engine, (unsigned)n_sim, (unsigned)cfg->sim_queues);
}

static int run(const struct options *o)
{
	struct settings settings = {
		.path = o->config_path, .must_exist = o->config_given, .cli = o->cli,
	};
	const struct config *cfg = &settings.cfg;
	struct broker_limits limits;
	struct broker broker;
	struct server server = { .listen_fd = -1 };
	struct hotplug hotplug = { .fd = -1 };
	struct dbus_api dbus = { 0 };
	struct sim_engine *engine = NULL;
	sd_event *event = NULL;
	sigset_t mask;
	int listen_fd, r;

	r = settings_load(&settings);
	if (r < 0)
		return r;

	/* Before any thread exists, so that every thread inherits the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	r = sd_event_default(&event);
	if (r < 0)
		return log_error_errno(r, "Could not create the event loop");
	settings_limits(cfg, &limits);
	broker_init(&broker, &limits, event);
	broker.settings = &settings;
	broker_set_policy(&broker, &settings.policy, false);
	/* WATCHDOG=1 from the loop itself, at half of WatchdogSec=: a stuck loop is restarted. */
	r = sd_event_set_watchdog(event, true);
	if (r < 0)
		log_warning_errno(r, "Could not set up the watchdog");
	if ((r = sd_event_add_signal(event, NULL, SIGTERM, on_signal, NULL)) < 0 ||
	    (r = sd_event_add_signal(event, NULL, SIGINT, on_signal, NULL)) < 0 ||
	    (r = sd_event_add_signal(event, NULL, SIGHUP, on_sighup, &broker)) < 0) {
		log_error_errno(r, "Could not watch signals");
		goto out;
	}
	r = setup_devices(&broker, o, cfg, &engine);
	if (r < 0)
		goto out;
	r = hotplug_init(&hotplug, event, &broker, o->sysfs_root, o->dev_root);
	if (r < 0)
		goto out;
	/* The listening socket and, after a restart, the queues handed out before. */
	broker.fdstore = fdstore_available();
	listen_fd = fdstore_take_passed(&broker);
	if (listen_fd < 0 && listen_fd != -ENOENT) {
		r = listen_fd;
		goto out;
	}
	r = dbus_api_init(&dbus, event, &broker);
	if (r < 0)
		goto out;
	r = server_init(&server, event, &broker, o->socket_path, listen_fd, varlink_api_dispatch);
	if (r < 0)
		goto out;
	notify_ready(&broker);
	log_info("accel-broker %s ready", ACCEL_VERSION);
	r = sd_event_loop(event);
	if (r < 0)
		log_error_errno(r, "Event loop failed");
	sd_notify(0, "STOPPING=1");
out:
	/*
	 * Queues first (kept in the fd store, or revoked while the watchers
	 * can still hear it), then connections, devices, the engine.
	 */
	broker_shutdown(&broker);
	server_finish(&server);
	dbus_api_finish(&dbus);
	hotplug_finish(&hotplug);
	broker_finish(&broker);
	sim_engine_destroy(engine);
	settings_finish(&settings);
	sd_event_unref(event);
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
