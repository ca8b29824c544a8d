# JupyterHub on one Linux server for the course: `sudo jupyterhub -f hub/jupyterhub_config.py`.
#
# What it assumes (docs/jupyterhub.md, "One server" says how to get there):
# - JupyterHub runs as root (it starts each learner's server as that learner) with `configurable-http-proxy` on
#   its PATH (`npm install -g configurable-http-proxy`).
# - Learners are Unix users in the group `learners` (`useradd -m -K HOME_MODE=0700 -G learners <name>`) and log in
#   with their Unix password (PAM).
# - The course is installed in a Python environment every user may execute, not under root's home folder:
#   COURSE_PYTHON below (e.g. `python3 -m venv /opt/generative-course/.venv` and `pip install -e ".[hub]"` there).
# - Fashion-MNIST is prepared once by root in a folder learners may read: COURSE_DATA_DIR below.
# - The learner repository is a bare git repository on this server: LEARNER_REPOSITORY below. It belongs to
#   root, so git refuses it to every learner ("detected dubious ownership") unless a system- or global-level
#   configuration names it as a safe directory (`-c safe.directory` and GIT_CONFIG_COUNT do not reach the
#   `git upload-pack` that a clone from a local path runs).
#   hub/make_learner_repository.sh writes that into <repository's folder>/gitconfig, which includes
#   /etc/gitconfig, and the spawner makes it the learners' system-level configuration (GIT_CONFIG_SYSTEM), which
#   nbgitpuller's git commands inherit.
#
# tests/test_hub.py starts a hub with this file (through a small file that loads it and changes the port and the
# paths) and runs a class of two learners on it.
import os

COURSE_PYTHON = os.environ.get("COURSE_HUB_PYTHON", "/opt/generative-course/.venv/bin/python")
COURSE_DATA_DIR = os.environ.get("COURSE_HUB_DATA_DIR", "/srv/data/fashion-mnist")
LEARNER_REPOSITORY = os.environ.get("COURSE_HUB_REPOSITORY", "/srv/git/course-students")
STATE = os.environ.get("COURSE_HUB_STATE", "/srv/jupyterhub")  # the hub's database, cookie secret, proxy pid

c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)

# Where the hub listens. Behind a TLS-terminating web server (nginx, Caddy) keep 127.0.0.1; to serve the network
# directly, use a certificate (c.JupyterHub.ssl_cert / ssl_key) and bind_url = "https://0.0.0.0:443".
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{STATE}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{STATE}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = f"{STATE}/jupyterhub-proxy.pid"
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server

# Who may log in: Unix users of the group `learners` (their own password), and the instructors named here.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_groups = {"learners"}  # LocalAuthenticator's option: membership read from /etc/group
c.Authenticator.admin_users = set()  # e.g. {"instructor"}

# Each learner's server: a process of that Unix user, in their home folder, running the course's environment.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [COURSE_PYTHON, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120  # s; the first start after a reboot reads PyTorch from disk
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "COURSE_DATA_DIR": COURSE_DATA_DIR,  # read-only for learners; prepared by root (docs/jupyterhub.md)
    "GIT_CONFIG_SYSTEM": os.path.join(os.path.dirname(LEARNER_REPOSITORY), "gitconfig"),  # trust that repository
}
# The local-process spawner does not enforce memory or CPU limits (c.Spawner.mem_limit is only advice to
# JupyterLab here); size the server from docs/jupyterhub.md's table, or use systemdspawner to enforce them.
# Servers nobody uses for an hour are stopped by jupyterhub-idle-culler, if you install it:
#   c.JupyterHub.services = [{"name": "idle-culler", "command": [sys.executable, "-m", "jupyterhub_idle_culler",
#                                                                "--timeout=3600"]}]
#   c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
#                               "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]
