#!/usr/bin/env bash
# Make (or update) the learner repository: the course's notebooks, exercises and images without solutions/ or
# the checkpoints, as a bare git repository on this server that nbgitpuller links clone from.
#
#   sudo hub/make_learner_repository.sh /opt/generative-course /srv/git/course-students "Week 1"
#
# The first run creates the bare repository and a working copy beside it (<bare>-work/); later runs copy the
# course's current files into the working copy and push what changed as one commit with the given message.
# Name the repository without ".git": nbgitpuller clones into ~/<last part of the URL>, the folder the links name.
#
# The repository belongs to root, so git refuses it to every learner ("detected dubious ownership") unless a
# protected configuration names it as a safe directory. The script adds it to <folder of the repository>/gitconfig,
# which also includes /etc/gitconfig; hub/jupyterhub_config.py makes it the learners' system-level git
# configuration (GIT_CONFIG_SYSTEM), so only their servers trust it, and only this repository.
set -euo pipefail
course=${1:?usage: make_learner_repository.sh COURSE_CLONE BARE_REPOSITORY [MESSAGE]}
bare=${2:?usage: make_learner_repository.sh COURSE_CLONE BARE_REPOSITORY [MESSAGE]}
message=${3:-Update}
bare=$(realpath -m "$bare")
work="${bare%.git}-work"
umask 022  # learners read the repository
if [ ! -d "$bare" ]; then
  git init -q --bare -b main "$bare"
  git init -q -b main "$work"
  git -C "$work" remote add origin "$bare"
fi
safe="$(dirname "$bare")/gitconfig"
if ! git config --file "$safe" --get-all safe.directory 2>/dev/null | grep -qxF "$bare"; then
  git config --file "$safe" --get include.path >/dev/null 2>&1 || git config --file "$safe" include.path /etc/gitconfig
  git config --file "$safe" --add safe.directory "$bare"
fi
for folder in notebooks exercises images; do
  rm -rf "${work:?}/$folder"
  cp -r "$course/$folder" "$work/$folder"
done
rm -rf "$work/notebooks/checkpoints"  # the lessons load them through the course_lib installed on the hub
git -C "$work" add -A
if git -C "$work" diff --cached --quiet; then
  echo "learner repository: nothing changed"
else
  git -C "$work" -c user.name="${GIT_AUTHOR_NAME:-instructor}" -c user.email="${GIT_AUTHOR_EMAIL:-instructor@localhost}" \
    commit -q -m "$message"
  git -C "$work" push -q -u origin main
  echo "learner repository: pushed \"$message\" to $bare"
fi
