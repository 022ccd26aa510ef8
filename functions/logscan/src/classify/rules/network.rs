//! A connection to something outside fails, or a package/container registry answers 5xx (the study's W3).
//! Every rule here is vetoed on loopback addresses: that is the job's own service.

use super::{LOOPBACK, Rule};
use crate::cause::Cause::Network as N;
use crate::classify::Severity::{High, Medium};

pub const RULES: &[Rule] = &[
    // DNS: Could not resolve host / getaddrinfo ENOTFOUND / EAI_AGAIN / no such host / name resolution
    Rule::new(
        "net.dns",
        N,
        High,
        0.9,
        &["could not resolve host", "enotfound", "eai_again", "no such host", "name resolution", "unknownhostexception", "name or service not known"],
        &[
            r"Could not resolve host",
            r"\b(ENOTFOUND|EAI_AGAIN)\b",
            r"no such host",
            r"(?i)temporary failure in name resolution",
            r"UnknownHostException",
            r"Name or service not known",
        ],
    )
    .unless(LOOPBACK),
    // dial tcp: lookup proxy.golang.org on 127.0.0.53:53: read udp 127.0.0.1:4711->127.0.0.53:53: i/o timeout
    // (the local stub resolver is on a loopback address, so no loopback veto here)
    Rule::new(
        "net.dns_lookup",
        N,
        High,
        0.9,
        &["lookup "],
        &[r"lookup \S+ on \S+: (server misbehaving|no such host|read udp .*: i/o timeout|i/o timeout|dial udp)"],
    ),
    // Resets and timeouts of TCP/TLS connections.
    Rule::new(
        "net.connection_failed",
        N,
        High,
        0.86,
        &[
            "connection reset", "econnreset", "connection timed out", "etimedout", "failed to connect to",
            "tls handshake timeout", "i/o timeout", "recv failure", "failure when receiving data",
            "remote end hung up", "rpc failed", "early eof", "connect timed out", "read timed out",
            "readtimeouterror", "connecttimeouterror", "newconnectionerror", "remotedisconnected",
            "connection was closed", "unexpected eof", "socket hang up", "econnrefused", "connection refused",
            "network is unreachable", "spurious network error", "ssl_error_syscall", "gnutls_handshake", "ssl connect error", "operation timed out",
        ],
        &[],
    )
    .unless(LOOPBACK),
    // git over HTTPS: fatal: unable to access 'https://github.com/o/r/': Operation timed out after ...
    Rule::new(
        "git.unable_to_access",
        N,
        High,
        0.9,
        &["unable to access"],
        &[
            r"unable to access '[^']+': (Operation timed out|Could not resolve|Failed to connect|Connection|Recv failure|OpenSSL|GnuTLS|SSL|Empty reply|The requested URL returned error: 5\d\d)",
        ],
    )
    .unless(LOOPBACK),
    // npm: network request to https://registry.npmjs.org/x failed, reason: ...
    Rule::new("npm.network_request_failed", N, High, 0.88, &["network request to"], &[r"network request to \S+ failed"])
        .unless(LOOPBACK),
    // A registry answering 5xx: npm, cargo ("got 503"), Go sum DB, Maven ("status code: 502"), Docker.
    Rule::new(
        "registry.server_error",
        N,
        High,
        0.86,
        &["service unavailable", "bad gateway", "gateway time", "internal server error", "got 50", "status code: 50", "status code 50", "error responses", "http error 50"],
        &[
            r"\b50[0234] (Service Unavailable|Bad Gateway|Gateway Time-?out|Internal Server Error)",
            r"\bgot 50[0234]\b",
            r"status code:? 50[0234]",
            r"too many 50\d error responses",
            r"HTTP error 50[0234]\b",
            r"(Service Unavailable|Bad Gateway|Gateway Time-?out) (for url|- GET|from)",
        ],
    )
    .unless(LOOPBACK),
    // Maven/Gradle transfers failing on the wire.
    Rule::new(
        "jvm.transfer_failed",
        N,
        Medium,
        0.88,
        &["could not transfer artifact", "could not get resource", "could not head", "transfer failed"],
        &[
            r"(Could not transfer artifact|Could not (GET|HEAD|get resource)) .*(Connection reset|timed out|Connect to \S+ failed|Unknown host|Remote host terminated|transfer failed|No route to host|Connection refused)",
            r"transfer failed for https?://",
        ],
    )
    .unless(LOOPBACK),
];
