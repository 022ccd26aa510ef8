//! The code does not compile: rustc, javac (Maven, Gradle), tsc, go build, Python syntax, C/C++, C#, Kotlin.

use super::Rule;
use crate::cause::Cause::Compilation as C;
use crate::classify::Severity::{High, Medium};

pub const RULES: &[Rule] = &[
    // error[E0599]: no method named `x` found for struct `Y` in the current scope
    Rule::new("rust.compile_error", C, High, 0.92, &["error["], &[r"^error\[E\d{4}\]"]),
    // error: could not compile `foo` (lib) due to 2 previous errors: also printed after clippy errors
    // and after a killed rustc, so it is weak on its own.
    Rule::new("rust.could_not_compile", C, Medium, 0.55, &["could not compile"], &[r"^error: could not compile `"]),
    // [ERROR] /home/runner/work/a/a/src/main/java/A.java:[12,5] cannot find symbol
    Rule::new("java.javac_error", C, High, 0.86, &[".java:"], &[r"\.java:\[\d+,\d+\] ", r"\.java:\d+: error: "])
        .unless(&["] ("]),
    Rule::new(
        "maven.compilation_failure",
        C,
        High,
        0.85,
        &["compilation failure", "compilation error", "maven-compiler-plugin"],
        &[
            r"^\[ERROR\] COMPILATION ERROR",
            r"Compilation failure",
            r"maven-compiler-plugin:[\d.]+:(test)?[cC]ompile .*failed",
        ],
    ),
    // > Task :compileJava FAILED / Execution failed for task ':compileKotlin'. / Compilation failed; see ...
    Rule::new(
        "gradle.compile_failed",
        C,
        High,
        0.85,
        &["compile", "compilation failed"],
        &[
            r"^> Task :(\S+:)?compile\w*(Java|Kotlin|Groovy|Scala) FAILED",
            r"Compilation failed; see the compiler error output",
        ],
    ),
    Rule::new(
        "gradle.compile_task_failed",
        C,
        Medium,
        0.6,
        &["execution failed for task"],
        &[r"Execution failed for task '(\S+:)?:?compile\w*(Java|Kotlin|Groovy|Scala)'"],
    ),
    // src/a.ts(3,7): error TS2322: ... / src/a.ts:3:7 - error TS2322: ...
    Rule::new("ts.tsc_error", C, High, 0.9, &["error ts"], &[r"error TS\d+:"]),
    // FAIL	example.com/pkg [build failed] / ./main.go:12:2: undefined: foo
    Rule::new(
        "go.build_failed",
        C,
        High,
        0.88,
        &["[build failed]", "[setup failed]", ".go:"],
        &[
            r"\[build failed\]",
            r"\.go:\d+:\d+: (undefined: |syntax error: |cannot use |too many arguments|not enough arguments|declared and not used|\S+ redeclared|imported and not used|missing return|invalid operation)",
        ],
    ),
    Rule::new(
        "python.syntax_error",
        C,
        High,
        0.82,
        &["syntaxerror", "indentationerror", "taberror"],
        &[r"\b(SyntaxError|IndentationError|TabError): "],
    ),
    // NameError raised while a module is imported (pytest collection): the code refers to a name
    // it never defines. Less certain than a syntax error: a test can also hit one at run time.
    Rule::new("python.name_error", C, High, 0.7, &["nameerror"], &[r"\bNameError: name '\S+' is not defined"]),
    // ImportError: cannot import name 'x' from 'pkg.mod': a name the code uses does not exist.
    Rule::new("python.import_error", C, High, 0.78, &["importerror"], &[r"ImportError: cannot import name \S+ from"]),
    // mypy: a.py:3: error: Argument 1 has incompatible type "int"; expected "str"  [arg-type] / Found 2 errors in 1 file
    Rule::new(
        "python.mypy",
        C,
        High,
        0.84,
        &[": error:", "found "],
        &[r"\.py:\d+: error: .+\[[\w-]+\]$", r"^Found [1-9]\d* errors? in \d+ files? \(checked \d+ source files?\)"],
    ),
    // undefined reference to `foo' / collect2: error: ld returned 1 exit status / a.c:3:10: error: ...
    Rule::new(
        "cc.compile_error",
        C,
        High,
        0.82,
        &["undefined reference to", "ld returned", ": error: ", "error c"],
        &[
            r"undefined reference to `",
            r"ld returned \d+ exit status",
            r"\.(c|cc|cpp|cxx|h|hpp):\d+:\d+: (fatal )?error: ",
            r"\.(c|cpp|cxx)\(\d+\): error C\d{4}:",
        ],
    ),
    // Program.cs(12,5): error CS0103: The name 'x' does not exist in the current context
    Rule::new("dotnet.compile_error", C, High, 0.9, &["error cs"], &[r"error CS\d{4}:"]),
    // e: file:///home/runner/work/a/a/src/main/kotlin/A.kt:12:5 Unresolved reference: foo
    Rule::new("kotlin.compile_error", C, High, 0.86, &[".kt:"], &[r"^e: .*\.kts?:\d+:\d+ "]),
];
