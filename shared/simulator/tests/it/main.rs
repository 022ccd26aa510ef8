mod payloads;
mod scenarios;
mod sim;
