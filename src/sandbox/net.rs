//! Bring up the loopback interface in a new network namespace over
//! rtnetlink (bwrap's `loopback_setup`): 127.0.0.1/8 on `lo`, then `lo` up.
//! Called from the child only.

use nix::errno::Errno;
use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};

use crate::error::{setup_errno, SetupError, Step};

const NLMSG_HDRLEN: usize = 16;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_F_PERMANENT: u8 = 0x80;
const RT_SCOPE_HOST: u8 = 254;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Build one netlink message: header + payload (already padded).
fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + payload.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    m
}

fn rtattr(kind: u16, data: &[u8]) -> Vec<u8> {
    let len = 4 + data.len();
    let mut a = Vec::with_capacity(align4(len));
    a.extend_from_slice(&(len as u16).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(data);
    a.resize(align4(len), 0);
    a
}

/// RTM_NEWADDR payload: ifaddrmsg + IFA_LOCAL + IFA_ADDRESS.
pub fn newaddr_payload(index: u32) -> Vec<u8> {
    let mut p = vec![libc::AF_INET as u8, 8, IFA_F_PERMANENT, RT_SCOPE_HOST];
    p.extend_from_slice(&index.to_ne_bytes());
    let lo = [127u8, 0, 0, 1];
    p.extend(rtattr(IFA_LOCAL, &lo));
    p.extend(rtattr(IFA_ADDRESS, &lo));
    p
}

/// RTM_NEWLINK payload: ifinfomsg setting IFF_UP.
pub fn newlink_payload(index: u32) -> Vec<u8> {
    let mut p = vec![libc::AF_UNSPEC as u8, 0];
    p.extend_from_slice(&0u16.to_ne_bytes()); // ifi_type
    p.extend_from_slice(&(index as i32).to_ne_bytes());
    p.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_flags
    p.extend_from_slice(&(libc::IFF_UP as u32).to_ne_bytes()); // ifi_change
    p
}

/// Send `msgs` (already numbered 1..=n) in one datagram and collect the
/// kernel's acknowledgement of each: one errno (0 for success) per message.
fn transact(fd: &std::os::fd::OwnedFd, msgs: &[u8], n: usize) -> Result<Vec<i32>, Errno> {
    loop {
        match send(std::os::fd::AsRawFd::as_raw_fd(fd), msgs, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    let mut acks: Vec<Option<i32>> = vec![None; n];
    let mut buf = [0u8; 8192];
    while acks.iter().any(Option::is_none) {
        let got = match recv(std::os::fd::AsRawFd::as_raw_fd(fd), &mut buf, MsgFlags::empty()) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(got) => got,
        };
        let mut off = 0;
        while off + NLMSG_HDRLEN <= got {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or_default()) as usize;
            let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            let seq = u32::from_ne_bytes(buf[off + 8..off + 12].try_into().unwrap_or_default());
            if len < NLMSG_HDRLEN || off + len > got {
                return Err(Errno::EBADMSG);
            }
            if kind == NLMSG_ERROR && len >= NLMSG_HDRLEN + 4 && (1..=n as u32).contains(&seq) {
                let err =
                    i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap_or_default());
                acks[seq as usize - 1] = Some(-err);
            }
            off += align4(len);
        }
    }
    Ok(acks.into_iter().map(Option::unwrap_or_default).collect())
}

/// The loopback device's index in every network namespace (the kernel's
/// `LOOPBACK_IFINDEX`); looked up by name only if the kernel disagrees.
const LOOPBACK_IFINDEX: u32 = 1;

/// Configure `lo` in the current (new) network namespace: both requests go
/// in one datagram (the kernel handles them in order), on a socket the
/// kernel binds on first send.
pub fn loopback_setup() -> Result<(), SetupError> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|e| {
        setup_errno(Step::Loopback, "loopback: Failed to create NETLINK_ROUTE socket", e)
    })?;
    let mut index = LOOPBACK_IFINDEX;
    loop {
        let mut msgs = message(
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            1,
            &newaddr_payload(index),
        );
        msgs.extend(message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 2, &newlink_payload(index)));
        let acks = transact(&fd, &msgs, 2)
            .map_err(|e| setup_errno(Step::Loopback, "loopback: Failed RTM_NEWADDR", e))?;
        if acks[0] == libc::ENODEV && index == LOOPBACK_IFINDEX {
            index = nix::net::if_::if_nametoindex("lo")
                .map_err(|e| setup_errno(Step::Loopback, "loopback: Failed to look up lo", e))?;
            if index != LOOPBACK_IFINDEX {
                continue;
            }
        }
        match acks[0] {
            0 | libc::EEXIST => {}
            e => {
                return Err(setup_errno(
                    Step::Loopback,
                    "loopback: Failed RTM_NEWADDR",
                    Errno::from_raw(e),
                ))
            }
        }
        if acks[1] != 0 {
            return Err(setup_errno(
                Step::Loopback,
                "loopback: Failed RTM_NEWLINK",
                Errno::from_raw(acks[1]),
            ));
        }
        return Ok(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_well_formed() {
        let m = message(RTM_NEWADDR, NLM_F_REQUEST, 7, &newaddr_payload(1));
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize, m.len());
        assert_eq!(m.len() % 4, 0);
        // ifaddrmsg (8) + two 8-byte attributes
        assert_eq!(m.len(), NLMSG_HDRLEN + 8 + 8 + 8);
        let l = message(RTM_NEWLINK, NLM_F_REQUEST, 8, &newlink_payload(1));
        assert_eq!(l.len(), NLMSG_HDRLEN + 16);
    }
}
