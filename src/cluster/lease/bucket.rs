//! The lease bucket: opened, or created when no node has made it yet.

use async_nats::jetstream::kv::Store;
use async_nats::jetstream::{self, context::KeyValueErrorKind, stream};
use tokio::time::timeout;

use super::{LeaseSettings, bucket_name};

/// Opens the bucket, creating it when it does not exist.
pub(super) async fn open(js: &jetstream::Context, s: &LeaseSettings) -> Result<Store, String> {
    let name = bucket_name(&s.station);
    let call = s.call_timeout();
    let store = match timeout(call, js.get_key_value(name.clone())).await {
        Ok(Ok(store)) => store,
        Ok(Err(e)) if e.kind() == KeyValueErrorKind::GetBucket => {
            // The bucket's stream made directly, as the client's create_key_value would make
            // it: that call first reads the account's limits, whose reply from a 2.9 server
            // async-nats 0.50 cannot parse. A node racing us gets the same stream back.
            let config = stream::Config {
                name: format!("KV_{name}"),
                description: Some(format!("onair leader lease of station {}", s.station)),
                subjects: vec![format!("$KV.{name}.>")],
                max_messages_per_subject: 1,
                max_age: s.ttl,
                storage: stream::StorageType::File,
                num_replicas: s.replicas,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: stream::DiscardPolicy::New,
                ..stream::Config::default()
            };
            match timeout(call, js.get_or_create_stream(config)).await {
                Ok(Ok(_)) => {}
                Ok(Err(create)) => {
                    return Err(format!("cannot create the lease bucket: {create}"));
                }
                Err(_) => return Err("timed out creating the lease bucket".to_owned()),
            }
            timeout(call, js.get_key_value(name))
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|e| e.to_string())?
        }
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("timed out".to_owned()),
    };
    Ok(store)
}
