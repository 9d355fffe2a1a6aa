//! SQL and Logs Insights *planning* over a real table (an import of a small flow-log file, as
//! `vpcflow query --files` makes it): any text is planned to a physical plan or refused with an
//! error, never a panic, an abort or a hang. Nothing is run, so no input reads for long.
//!
//! The first byte picks the language (even: SQL, odd: Insights); the rest is the query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use vpcflow_query::athena::{Statement, parse, split};
use vpcflow_query::insights::{self, plan};
use vpcflow_query::{sql, table};

struct World {
    rt: tokio::runtime::Runtime,
    flows: Arc<table::FlowTable>,
    data: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

const FILE: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
2 123456789012 eni-0a1b2c3d 10.0.1.5 10.0.2.9 44321 443 6 10 8400 1700000000 1700000060 ACCEPT OK\n\
2 123456789012 eni-0a1b2c3d 198.51.100.7 10.0.1.5 51515 22 6 1 40 1700000000 1700000060 REJECT OK\n\
2 123456789012 eni-0a1b2c3d - - - - - - - 1700000060 1700000120 - NODATA\n";

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let files = dir.path().join("files");
        std::fs::create_dir_all(&files).expect("its files directory");
        std::fs::write(files.join("flows.log"), FILE).expect("the flow-log file");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let flows = rt
            .block_on(table::import(&table::Place::Local(files)))
            .expect("the file imports");
        World {
            rt,
            flows: Arc::new(flows),
            data: dir.path().join("data"),
            _dir: dir,
        }
    })
}

fn sql_plans(w: &World, script: &str) {
    // A LOCATION may name any directory, and listing `/` is slow, not wrong: DDL is the
    // athena_ddl target's.
    let catalog = Arc::new(sql::Catalog::transient(&w.data).expect("an in-memory catalog"));
    let schema = Arc::new(sql::StoreSchema::new(catalog, None));
    w.rt.block_on(async {
        let ctx = sql::session();
        let registered = ctx
            .catalog("datafusion")
            .expect("the default catalog")
            .register_schema("public", schema);
        assert!(registered.is_ok());
        ctx.register_table("flows", Arc::clone(&w.flows) as _)
            .expect("flows registers");
        for stmt in split(script) {
            if !matches!(parse(script, &stmt), Ok(Statement::Query)) {
                continue;
            }
            if let Ok(df) = sql::plan_query(&ctx, stmt.text, 1).await {
                let _ = df.create_physical_plan().await;
            }
        }
    });
}

fn insights_plans(w: &World, text: &str) {
    let Ok(query) = insights::parse(text) else {
        return;
    };
    w.rt.block_on(async {
        let ctx = plan::session();
        let source = plan::files(&ctx, Arc::clone(&w.flows))
            .await
            .expect("the import is an Insights source");
        let env = plan::Env {
            now_s: 1_700_000_300,
            range: None,
            flow_records_only: true,
        };
        if let Ok(df) = plan::plan(&ctx, &query, text, source, env) {
            let _ = df.create_physical_plan().await;
        }
    });
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let w = world();
    if pick % 2 == 0 {
        sql_plans(w, text);
    } else {
        insights_plans(w, text);
    }
});
