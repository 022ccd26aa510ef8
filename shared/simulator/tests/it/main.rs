mod payloads;
mod sim;
