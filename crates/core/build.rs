// Re-embed the migrations when a file is added to or removed from migrations/.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
