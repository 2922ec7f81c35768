# fish completion for nestwrap and bwrap.
# Generated from src/cli/spec.rs by src/doc.rs; do not edit.
# Refresh with: UPDATE_GENERATED=1 cargo test generated

# Where the cursor is, printed as one of: "option" (an option or COMMAND
# may come here), "arg OPTION N" (value N of OPTION), "command" (COMMAND
# after --) or "args" (COMMAND's own arguments).
function __nestwrap_state
    set -l words (commandline -opc)
    set -l n (count $words)
    set -l i 2
    while test $i -le $n
        set -l w $words[$i]
        set -l arity 0
        switch $w
            case '--'
                if test $i -eq $n
                    echo command
                else
                    echo args
                end
                return
            case '--args' '--argv0' '--userns' '--userns2' '--pidns' '--uid' '--gid' '--hostname' '--chdir' '--unsetenv' '--lock-file' '--sync-fd' '--remount-ro' '--overlay-src' '--tmp-overlay' '--ro-overlay' '--exec-label' '--file-label' '--proc' '--dev' '--tmpfs' '--mqueue' '--dir' '--seccomp' '--add-seccomp-fd' '--block-fd' '--userns-block-fd' '--info-fd' '--json-status-fd' '--cap-add' '--cap-drop' '--perms' '--size' '--proc-fallback'
                set arity 1
            case '--setenv' '--bind' '--bind-try' '--dev-bind' '--dev-bind-try' '--ro-bind' '--ro-bind-try' '--bind-fd' '--ro-bind-fd' '--file' '--bind-data' '--ro-bind-data' '--symlink' '--chmod'
                set arity 2
            case '--overlay'
                set arity 3
            case '-*'
                set arity 0
            case '*'
                echo args
                return
        end
        if test (math $i + $arity) -gt $n
            echo arg $w (math $n + 1 - $i)
            return
        end
        set i (math $i + $arity + 1)
    end
    echo option
end

function __nestwrap_at
    set -l state (__nestwrap_state)
    test "$state" = "$argv"
end

# COMMAND's arguments, completed as COMMAND's own.
function __nestwrap_complete_rest
    set -l words (commandline -opc)
    set -l n (count $words)
    set -l i 2
    while test $i -le $n
        set -l w $words[$i]
        set -l arity 0
        switch $w
            case '--'
                set i (math $i + 1)
                break
            case '--args' '--argv0' '--userns' '--userns2' '--pidns' '--uid' '--gid' '--hostname' '--chdir' '--unsetenv' '--lock-file' '--sync-fd' '--remount-ro' '--overlay-src' '--tmp-overlay' '--ro-overlay' '--exec-label' '--file-label' '--proc' '--dev' '--tmpfs' '--mqueue' '--dir' '--seccomp' '--add-seccomp-fd' '--block-fd' '--userns-block-fd' '--info-fd' '--json-status-fd' '--cap-add' '--cap-drop' '--perms' '--size' '--proc-fallback'
                set arity 1
            case '--setenv' '--bind' '--bind-try' '--dev-bind' '--dev-bind-try' '--ro-bind' '--ro-bind-try' '--bind-fd' '--ro-bind-fd' '--file' '--bind-data' '--ro-bind-data' '--symlink' '--chmod'
                set arity 2
            case '--overlay'
                set arity 3
            case '-*'
                set arity 0
            case '*'
                break
        end
        set i (math $i + $arity + 1)
    end
    set -l rest $words[$i..-1] (commandline -ct)
    complete -C (string join ' ' -- (string escape -- $rest))
end

function __nestwrap_modes
    printf '%s\t%s\n' 0755 'rwxr-xr-x'
    printf '%s\t%s\n' 0700 'rwx------'
    printf '%s\t%s\n' 0750 'rwxr-x---'
    printf '%s\t%s\n' 0644 'rw-r--r--'
    printf '%s\t%s\n' 0600 'rw-------'
    printf '%s\t%s\n' 0444 'r--r--r--'
    printf '%s\t%s\n' 1777 'rwxrwxrwt (sticky, like /tmp)'
    printf '%s\t%s\n' 0777 'rwxrwxrwx'
end

for cmd in nestwrap bwrap
    complete -c $cmd -f
    complete -c $cmd -n '__nestwrap_at option' -l help -d 'Print this help'
    complete -c $cmd -n '__nestwrap_at option' -l version -d 'Print version'
    complete -c $cmd -n '__nestwrap_at option' -l args -d 'Parse NUL-separated args from FD'
    complete -c $cmd -n '__nestwrap_at option' -l argv0 -d 'Set argv[0] to the value VALUE before running the program'
    complete -c $cmd -n '__nestwrap_at option' -l level-prefix -d 'Prepend e.g. <3> to diagnostic messages'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-all -d 'Unshare every namespace we support by default'
    complete -c $cmd -n '__nestwrap_at option' -l share-net -d 'Retain the network namespace (can only combine with --unshare-all)'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-user -d 'Create new user namespace (may be automatically implied if not root)'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-user-try -d 'Create new user namespace if possible else continue by skipping it'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-ipc -d 'Create new ipc namespace'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-pid -d 'Create new pid namespace'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-net -d 'Create new network namespace'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-uts -d 'Create new uts namespace'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-cgroup -d 'Create new cgroup namespace'
    complete -c $cmd -n '__nestwrap_at option' -l unshare-cgroup-try -d 'Create new cgroup namespace if possible else continue by skipping it'
    complete -c $cmd -n '__nestwrap_at option' -l userns -d 'Use this user namespace (cannot combine with --unshare-user)'
    complete -c $cmd -n '__nestwrap_at option' -l userns2 -d 'After setup switch to this user namespace, only useful with --userns'
    complete -c $cmd -n '__nestwrap_at option' -l disable-userns -d 'Disable further use of user namespaces inside sandbox'
    complete -c $cmd -n '__nestwrap_at option' -l assert-userns-disabled -d 'Fail unless further use of user namespace inside sandbox is disabled'
    complete -c $cmd -n '__nestwrap_at option' -l pidns -d 'Use this pid namespace (as parent namespace if using --unshare-pid)'
    complete -c $cmd -n '__nestwrap_at option' -l uid -d 'Custom uid in the sandbox (requires --unshare-user or --userns)'
    complete -c $cmd -n '__nestwrap_at option' -l gid -d 'Custom gid in the sandbox (requires --unshare-user or --userns)'
    complete -c $cmd -n '__nestwrap_at option' -l hostname -d 'Custom hostname in the sandbox (requires --unshare-uts)'
    complete -c $cmd -n '__nestwrap_at option' -l chdir -d 'Change directory to DIR'
    complete -c $cmd -n '__nestwrap_at option' -l clearenv -d 'Unset all environment variables'
    complete -c $cmd -n '__nestwrap_at option' -l setenv -d 'Set an environment variable'
    complete -c $cmd -n '__nestwrap_at option' -l unsetenv -d 'Unset an environment variable'
    complete -c $cmd -n '__nestwrap_at option' -l lock-file -d 'Take a lock on DEST while sandbox is running'
    complete -c $cmd -n '__nestwrap_at option' -l sync-fd -d 'Keep this fd open while sandbox is running'
    complete -c $cmd -n '__nestwrap_at option' -l bind -d 'Bind mount the host path SRC on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l bind-try -d 'Equal to --bind but ignores non-existent SRC'
    complete -c $cmd -n '__nestwrap_at option' -l dev-bind -d 'Bind mount the host path SRC on DEST, allowing device access'
    complete -c $cmd -n '__nestwrap_at option' -l dev-bind-try -d 'Equal to --dev-bind but ignores non-existent SRC'
    complete -c $cmd -n '__nestwrap_at option' -l ro-bind -d 'Bind mount the host path SRC readonly on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l ro-bind-try -d 'Equal to --ro-bind but ignores non-existent SRC'
    complete -c $cmd -n '__nestwrap_at option' -l bind-fd -d 'Bind open directory or path fd on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l ro-bind-fd -d 'Bind open directory or path fd read-only on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l remount-ro -d 'Remount DEST as readonly; does not recursively remount'
    complete -c $cmd -n '__nestwrap_at option' -l overlay-src -d 'Read files from SRC in the following overlay'
    complete -c $cmd -n '__nestwrap_at option' -l overlay -d 'Mount overlayfs on DEST, with RWSRC as the host path for writes and WORKDIR an empty directory on the same filesystem as RWSRC'
    complete -c $cmd -n '__nestwrap_at option' -l tmp-overlay -d 'Mount overlayfs on DEST, with writes going to an invisible tmpfs'
    complete -c $cmd -n '__nestwrap_at option' -l ro-overlay -d 'Mount overlayfs read-only on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l exec-label -d 'Exec label for the sandbox'
    complete -c $cmd -n '__nestwrap_at option' -l file-label -d 'File label for temporary sandbox content'
    complete -c $cmd -n '__nestwrap_at option' -l proc -d 'Mount new procfs on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l dev -d 'Mount new dev on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l tmpfs -d 'Mount new tmpfs on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l mqueue -d 'Mount new mqueue on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l dir -d 'Create dir at DEST'
    complete -c $cmd -n '__nestwrap_at option' -l file -d 'Copy from FD to destination DEST'
    complete -c $cmd -n '__nestwrap_at option' -l bind-data -d 'Copy from FD to file which is bind-mounted on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l ro-bind-data -d 'Copy from FD to file which is readonly bind-mounted on DEST'
    complete -c $cmd -n '__nestwrap_at option' -l symlink -d 'Create symlink at DEST with target SRC'
    complete -c $cmd -n '__nestwrap_at option' -l seccomp -d 'Load and use seccomp rules from FD (not repeatable)'
    complete -c $cmd -n '__nestwrap_at option' -l add-seccomp-fd -d 'Load and use seccomp rules from FD (repeatable)'
    complete -c $cmd -n '__nestwrap_at option' -l block-fd -d 'Block on FD until some data to read is available'
    complete -c $cmd -n '__nestwrap_at option' -l userns-block-fd -d 'Block on FD until the user namespace is ready'
    complete -c $cmd -n '__nestwrap_at option' -l info-fd -d 'Write information about the running container to FD'
    complete -c $cmd -n '__nestwrap_at option' -l json-status-fd -d 'Write container status to FD as multiple JSON documents'
    complete -c $cmd -n '__nestwrap_at option' -l new-session -d 'Create a new terminal session'
    complete -c $cmd -n '__nestwrap_at option' -l die-with-parent -d 'Kills with SIGKILL child process (COMMAND) when bwrap or bwrap\'s parent dies.'
    complete -c $cmd -n '__nestwrap_at option' -l as-pid-1 -d 'Do not install a reaper process with PID=1'
    complete -c $cmd -n '__nestwrap_at option' -l cap-add -d 'Add cap CAP when running as privileged user'
    complete -c $cmd -n '__nestwrap_at option' -l cap-drop -d 'Drop cap CAP when running as privileged user'
    complete -c $cmd -n '__nestwrap_at option' -l perms -d 'Set permissions of next argument (--bind-data, --file, etc.)'
    complete -c $cmd -n '__nestwrap_at option' -l size -d 'Set size of next argument (only for --tmpfs)'
    complete -c $cmd -n '__nestwrap_at option' -l chmod -d 'Change permissions of PATH (must already exist)'
    complete -c $cmd -n '__nestwrap_at option' -l not-a-security-boundary -d 'Do not fail hard when some sandbox setup steps fail; use only when the sandbox is not a security boundary'
    complete -c $cmd -n '__nestwrap_at option' -l proc-fallback -d 'When a new procfs is refused (masked /proc): auto, quiet or never'
    complete -c $cmd -n '__nestwrap_at option' -l forward-signals -d 'Forward SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to COMMAND'
    complete -c $cmd -n '__nestwrap_at option' -l scope-abstract-unix-sockets -d 'Block connecting to abstract unix sockets made outside the sandbox (Landlock)'
    complete -c $cmd -n '__nestwrap_at option' -l scope-signals -d 'Block signalling processes outside the sandbox (Landlock)'
    complete -c $cmd -n '__nestwrap_at option' -l diagnose -d 'Explain what blocks or weakens a sandbox here, then exit (nestwrap only)'
    complete -c $cmd -n '__nestwrap_at arg --args 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --userns 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --userns2 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --pidns 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --chdir 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --setenv 1' -a '(set --names --export)'
    complete -c $cmd -n '__nestwrap_at arg --unsetenv 1' -a '(set --names --export)'
    complete -c $cmd -n '__nestwrap_at arg --lock-file 1' -F
    complete -c $cmd -n '__nestwrap_at arg --sync-fd 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --bind 1' -F
    complete -c $cmd -n '__nestwrap_at arg --bind 2' -F
    complete -c $cmd -n '__nestwrap_at arg --bind-try 1' -F
    complete -c $cmd -n '__nestwrap_at arg --bind-try 2' -F
    complete -c $cmd -n '__nestwrap_at arg --dev-bind 1' -F
    complete -c $cmd -n '__nestwrap_at arg --dev-bind 2' -F
    complete -c $cmd -n '__nestwrap_at arg --dev-bind-try 1' -F
    complete -c $cmd -n '__nestwrap_at arg --dev-bind-try 2' -F
    complete -c $cmd -n '__nestwrap_at arg --ro-bind 1' -F
    complete -c $cmd -n '__nestwrap_at arg --ro-bind 2' -F
    complete -c $cmd -n '__nestwrap_at arg --ro-bind-try 1' -F
    complete -c $cmd -n '__nestwrap_at arg --ro-bind-try 2' -F
    complete -c $cmd -n '__nestwrap_at arg --bind-fd 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --bind-fd 2' -F
    complete -c $cmd -n '__nestwrap_at arg --ro-bind-fd 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --ro-bind-fd 2' -F
    complete -c $cmd -n '__nestwrap_at arg --remount-ro 1' -F
    complete -c $cmd -n '__nestwrap_at arg --overlay-src 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --overlay 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --overlay 2' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --overlay 3' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --tmp-overlay 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --ro-overlay 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --proc 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --dev 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --tmpfs 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --mqueue 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --dir 1' -a '(__fish_complete_directories (commandline -ct))'
    complete -c $cmd -n '__nestwrap_at arg --file 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --file 2' -F
    complete -c $cmd -n '__nestwrap_at arg --bind-data 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --bind-data 2' -F
    complete -c $cmd -n '__nestwrap_at arg --ro-bind-data 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --ro-bind-data 2' -F
    complete -c $cmd -n '__nestwrap_at arg --symlink 2' -F
    complete -c $cmd -n '__nestwrap_at arg --seccomp 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --add-seccomp-fd 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --block-fd 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --userns-block-fd 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --info-fd 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --json-status-fd 1' -a '0 1 2 3 4 5 6 7 8 9'
    complete -c $cmd -n '__nestwrap_at arg --cap-add 1' -a 'CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE ALL'
    complete -c $cmd -n '__nestwrap_at arg --cap-drop 1' -a 'CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE ALL'
    complete -c $cmd -n '__nestwrap_at arg --perms 1' -a '(__nestwrap_modes)'
    complete -c $cmd -n '__nestwrap_at arg --chmod 1' -a '(__nestwrap_modes)'
    complete -c $cmd -n '__nestwrap_at arg --chmod 2' -F
    complete -c $cmd -n '__nestwrap_at arg --proc-fallback 1' -a 'auto quiet never'
    complete -c $cmd -n '__nestwrap_at option' -a '(__fish_complete_command)'
    complete -c $cmd -n '__nestwrap_at command' -a '(__fish_complete_command)'
    complete -c $cmd -n '__nestwrap_at args' -a '(__nestwrap_complete_rest)'
end
