#[path = "support/sim.rs"]
mod sim;
#[path = "support/sim_prop.rs"]
mod sim_prop;

#[test]
fn builds() {
    let s = sim::models::tiny_mlp(sim::models::Storage::Fp32);
    let p = s.build().unwrap();
    assert!(p.file.len() > 180_000);
}
