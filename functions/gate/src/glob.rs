//! Path patterns for policy scopes and ignore rules: `*` matches within one path segment, `**`
//! across segments, `?` one character; everything else matches itself. Matching is linear in
//! the pattern times the path (dynamic programming), never exponential.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    DoubleStar,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    // `**/` also matches zero segments.
                    if chars.peek() == Some(&'/') {
                        chars.next();
                    }
                    Token::DoubleStar
                }
                '*' => Token::Star,
                '?' => Token::Any,
                c => Token::Char(c),
            });
        }
        Self { source: pattern.to_owned(), tokens }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        // reach[j]: the pattern prefix seen so far matches text[..j].
        let mut reach = vec![false; text.len() + 1];
        reach[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; text.len() + 1];
            match token {
                Token::Char(c) => {
                    for j in 0..text.len() {
                        next[j + 1] = reach[j] && text[j] == *c;
                    }
                }
                Token::Any => {
                    for j in 0..text.len() {
                        next[j + 1] = reach[j] && text[j] != '/';
                    }
                }
                Token::Star | Token::DoubleStar => {
                    let crosses = *token == Token::DoubleStar;
                    next[0] = reach[0];
                    for j in 0..text.len() {
                        next[j + 1] = reach[j + 1] || (next[j] && (crosses || text[j] != '/'));
                    }
                }
            }
            reach = next;
        }
        reach[text.len()]
    }
}

impl Serialize for Glob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Glob::new(&String::deserialize(d)?))
    }
}
