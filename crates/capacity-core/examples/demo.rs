fn main() {
    println!("demo: see issue 2 helper");
}
