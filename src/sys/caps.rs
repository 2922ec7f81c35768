//! Capabilities: capget/capset, the bounding set and the ambient set.
//! Sets are plain `u64` bit masks (bit N = capability N).

use nix::errno::Errno;

const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The three capability sets of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `capget(2)` for this process.
pub fn capget() -> Result<CapSets, Errno> {
    let mut hdr = Header { version: VERSION_3, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: hdr and data are valid, correctly laid out (v3 uses two data
    // structs) and live across the call.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut Header, data.as_mut_ptr()) };
    if r != 0 {
        return Err(Errno::last());
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// `capset(2)` for this process.
pub fn capset(sets: CapSets) -> Result<(), Errno> {
    let mut hdr = Header { version: VERSION_3, pid: 0 };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        Data { effective: e0, permitted: p0, inheritable: i0 },
        Data { effective: e1, permitted: p1, inheritable: i1 },
    ];
    // SAFETY: as in `capget`; the kernel only reads `data`.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut Header, data.as_ptr()) };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `PR_CAPBSET_DROP`.
pub fn bounding_drop(cap: u32) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `PR_CAPBSET_READ`: whether `cap` is in the bounding set.
pub fn bounding_read(cap: u32) -> Result<bool, Errno> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r == 1)
    }
}

/// `PR_CAP_AMBIENT_RAISE`.
pub fn ambient_raise(cap: u32) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            cap as libc::c_ulong,
            0,
            0,
        )
    };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// The highest capability number this kernel knows (`cap_last_cap`),
/// found with `PR_CAPBSET_READ`, which is EINVAL past the last one: one
/// syscall on kernels whose last capability is 40 (CAP_CHECKPOINT_RESTORE).
pub fn last_cap() -> u32 {
    last_cap_with(bounding_read)
}

/// [`last_cap`] over any `PR_CAPBSET_READ`.
fn last_cap_with(read: impl Fn(u32) -> Result<bool, Errno>) -> u32 {
    // Only EINVAL means "no such capability". Any other failure counts as
    // known: a capability taken for absent would never leave the bounding
    // set, and dropping one that does not exist is a harmless EINVAL.
    let known = |cap: u32| read(cap) != Err(Errno::EINVAL);
    let mut last = 40;
    if !known(last) {
        while last > 0 && !known(last) {
            last -= 1;
        }
        return last;
    }
    while last < 63 && known(last + 1) {
        last += 1;
    }
    last
}

#[cfg(test)]
mod tests {
    #[test]
    fn last_cap_matches_procfs() {
        let want: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(super::last_cap(), want);
    }

    /// A read that fails with anything but EINVAL (a fault, a filter)
    /// must not shorten the list of capabilities to drop: that used to
    /// leave capability 40 in COMMAND's bounding set (issue 17).
    #[test]
    fn last_cap_counts_unreadable_as_present() {
        use nix::errno::Errno;
        let kernel = |last: u32, broken: u32| {
            move |cap: u32| match cap {
                c if c == broken => Err(Errno::EPERM),
                c if c <= last => Ok(true),
                _ => Err(Errno::EINVAL),
            }
        };
        assert_eq!(super::last_cap_with(kernel(40, 40)), 40);
        assert_eq!(super::last_cap_with(kernel(41, 41)), 41);
        assert_eq!(super::last_cap_with(kernel(37, 38)), 38);
        assert_eq!(super::last_cap_with(kernel(40, 99)), 40);
    }
}
