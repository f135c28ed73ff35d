#!/bin/bash
# The main job on a fresh Debian 12 machine, as root:
#   scripts/quickstart.sh    (in a root shell)
# Installs the build dependencies, builds, installs stitch under /usr, starts
# stitchd on its embedded SQLite default (through systemd when systemd is
# PID 1, directly otherwise), creates a demo user and shows a real PAM login
# through pam_stitch.so with pamtester.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

[ "$(id -u)" -eq 0 ] || { echo "run as root (in a root shell, or: su - -c \"$0\")" >&2; exit 1; }

say "Installing build dependencies"
scripts/deps.sh build

say "Building"
./autogen.sh >/dev/null 2>&1
mkdir -p build && cd build
../configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var --runstatedir=/run >/dev/null
make -j"$(nproc)" >/dev/null

say "Installing"
make install >/dev/null
cd "$top"

say "Starting stitchd (embedded SQLite store at /var/lib/stitchd/stitch.db)"
if [ -d /run/systemd/system ]; then
        systemd-sysusers >/dev/null 2>&1 || true
        systemd-tmpfiles --create >/dev/null 2>&1 || true
        systemctl daemon-reload
        systemctl enable --now stitchd.socket stitchd-admin.socket
        systemctl start stitchd.service
else
        echo "(systemd is not PID 1 here: starting the daemon directly)"
        if ! stitchctl status >/dev/null 2>&1; then
                nohup stitchd --foreground >/var/log/stitchd.log 2>&1 &
                for i in $(seq 1 100); do stitchctl status >/dev/null 2>&1 && break; sleep 0.1; done
        fi
fi
stitchctl status

say "Creating a demo Unix account and its stitch user"
id stitchdemo >/dev/null 2>&1 || useradd --create-home --shell /bin/bash stitchdemo
password="demo-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')"
stitchctl user delete stitchdemo >/dev/null 2>&1 || true
printf '%s' "$password" | stitchctl user add --email demo@example.com --unix-name stitchdemo --name "Demo User" --password-stdin
echo "password for stitchdemo: $password"

say "A real PAM login through pam_stitch.so (service file /etc/pam.d/stitch-demo)"
cat > /etc/pam.d/stitch-demo <<'PAM'
# Demo service created by stitch's quick start.
auth     required pam_stitch.so
account  required pam_stitch.so
session  optional pam_stitch.so
password required pam_stitch.so
PAM
printf '%s\n' "$password" | pamtester -v stitch-demo stitchdemo authenticate acct_mgmt open_session close_session
echo "A wrong password is refused:"
printf 'not-the-password\n' | pamtester stitch-demo stitchdemo authenticate || true

say "A token of a login, verified"
token=$(printf '%s' "$password" | stitchctl login --user stitchdemo --service stitch-demo --json | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
stitchctl token verify "$token"

say "Done. Try: stitchctl user list; man stitchctl; man pam_stitch"
