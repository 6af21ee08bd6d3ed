//! One contender, `N` sequential GETs against the stub terminal, nothing else: for
//! counting instructions per request with callgrind, which is repeatable where wall
//! time on a shared machine is not.
//!
//! ```sh
//! cargo build --release -p resile-benches --bin stub-requests
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/stub-requests resile 21000
//! ```
//!
//! `resile-apart` is resile over a `reqwest::Client` built apart
//! (`Service::client`), where each attempt carries a timeout of its own.
//!
//! Run it twice per contender (say 1 000 and 21 000 requests) and divide the
//! difference by 20 000: what is left is the cost of one request, without the
//! start-up (runtime, client, TLS roots).

use std::process::ExitCode;

use reqwest::Url;
use reqwest_middleware::ClientWithMiddleware;
use resile_benches::clients::{Contender, resile_service};
use resile_benches::scenario::BoxError;
use resile_benches::stub::{self, HOST, Stub, URL};

/// The contender named `name` and whether resile's client is built apart.
fn contender(name: &str) -> Option<(Contender, bool)> {
    if name == "resile-apart" {
        return Some((Contender::Resile, true));
    }
    Contender::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .map(|c| (c, false))
}

fn client(who: Contender, apart: bool) -> Result<ClientWithMiddleware, BoxError> {
    if !apart {
        return stub::client(who);
    }
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
    Ok(resile_service(HOST, false)?
        .attach(http)
        .with(Stub::ok())
        .build())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(who), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: stub-requests <bare|reqwest-retry|resile|resile-apart> <requests>");
        return ExitCode::from(2);
    };
    let (Some((who, apart)), Ok(n)) = (contender(&who), n.parse::<u64>()) else {
        eprintln!("stub-requests: unknown contender {who:?} or a count that is not a number");
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stub-requests: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = Url::parse(URL).expect("a valid URL");
    let client = match client(who, apart) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stub-requests: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ok = rt.block_on(async {
        let mut ok = 0u64;
        for _ in 0..n {
            match who.get(&client, url.clone()).send().await {
                Ok(resp) if resp.status() == 200 => ok += 1,
                _ => {}
            }
        }
        ok
    });
    if ok == n {
        ExitCode::SUCCESS
    } else {
        eprintln!("stub-requests: {ok} of {n} requests answered 200");
        ExitCode::FAILURE
    }
}
