#!/usr/bin/env bash
# Grades one homework on a Slurm cluster: a job array of SHARDS tasks, one GPU each, then the
# gradebook in a job that starts only when every shard has succeeded (afterok).
#
#   autograder/slurm/submit.sh HW SUBMISSIONS [SHARDS]      (run from the course repository)
#
# Prints the two job ids: the array, then the gradebook. Settings, from the environment:
#   AUTOGRADER_GPUS_PER_TASK  GPUs per shard (default 1; 0 on a CPU-only cluster)
#   AUTOGRADER_CPUS           CPUs per shard (default 8)     AUTOGRADER_MEM   memory (default 32G)
#   AUTOGRADER_TIME           time limit per job (default 02:00:00)
#   AUTOGRADER_PARTITION      partition (default: the cluster's default)
#   AUTOGRADER_RESULTS        results folder (default results; files go to results/HW/)
#   AUTOGRADER_GRADEBOOK      gradebook file (default grades-HW.xlsx)
#   AUTOGRADER                the grader command (default autograder), e.g. through apptainer
#   AUTOGRADER_GRADE_ARGS     extra options of `autograder grade`
#   AUTOGRADER_COURSE         course file (default course.toml)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

hw=${1:?usage: submit.sh HW SUBMISSIONS [SHARDS]}
submissions=${2:?usage: submit.sh HW SUBMISSIONS [SHARDS]}
shards=${3:-4}
if ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: SHARDS must be a positive number, not '$shards'" >&2
  exit 2
fi
results=${AUTOGRADER_RESULTS:-results}
out=${AUTOGRADER_GRADEBOOK:-grades-$hw.xlsx}
gpus=${AUTOGRADER_GPUS_PER_TASK:-1}

common=(--time="${AUTOGRADER_TIME:-02:00:00}")
[ -n "${AUTOGRADER_PARTITION:-}" ] && common+=(--partition="$AUTOGRADER_PARTITION")
shard_opts=(--array="0-$((shards - 1))" --cpus-per-task="${AUTOGRADER_CPUS:-8}"
            --mem="${AUTOGRADER_MEM:-32G}")
[ "$gpus" != 0 ] && shard_opts+=(--gres="gpu:$gpus")

mkdir -p "$results"
# --parsable prints "jobid" or "jobid;cluster".
array=$(sbatch --parsable "${common[@]}" "${shard_opts[@]}" \
          "$here/grade.sbatch" "$hw" "$submissions" "$results")
array=${array%%;*}
book=$(sbatch --parsable "${common[@]}" --dependency="afterok:$array" --kill-on-invalid-dep=yes \
         "$here/gradebook.sbatch" "$hw" "$results" "$out")
book=${book%%;*}
echo "$array $book"
