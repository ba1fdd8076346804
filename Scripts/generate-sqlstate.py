#!/usr/bin/env python3
"""Generate Sources/PGWire/PGSQLState.swift from PostgreSQL's errcodes.txt.

Usage:
    Scripts/generate-sqlstate.py [ERRCODES_TXT] [OUTPUT_SWIFT]

ERRCODES_TXT defaults to Scripts/errcodes.txt (a committed copy of PostgreSQL's
src/backend/utils/errcodes.txt, e.g. from /usr/share/postgresql/15/errcodes.txt),
so that generation is reproducible. OUTPUT_SWIFT defaults to Sources/PGWire/PGSQLState.swift.

Naming rules for the Swift constants:
  * a condition name (unique_violation) becomes lowerCamelCase (uniqueViolation);
  * a condition name used by several codes keeps the plain name for the code whose macro is
    ERRCODE_<NAME>; the others are prefixed with their class's name
    (01004 -> warningStringDataRightTruncation, 38002 -> externalRoutineExceptionModifyingSqlDataNotPermitted);
  * lines without a condition name are aliases of another code; they get a constant named after their
    macro (ERRCODE_UNDEFINED_DATABASE -> undefinedDatabase) whose `name` is the real condition name;
  * Swift keywords are escaped with backticks.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_INPUT = os.path.join(HERE, "errcodes.txt")
DEFAULT_OUTPUT = os.path.join(ROOT, "Sources", "PGWire", "PGSQLState.swift")

SWIFT_KEYWORDS = {
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
    "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
    "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
    "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
    "throw", "switch", "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self",
    "super", "throws", "true", "try", "_",
}
# Members the struct itself declares; a constant may not take these names.
RESERVED_MEMBERS = {"rawValue", "name", "errorClass", "description", "init"}
# Macro-derived alias names that read better spelled out.
ALIAS_OVERRIDES = {"UNDEFINED_PSTATEMENT": "undefinedPreparedStatement"}


def camel(snake):
    parts = [p for p in snake.lower().split("_") if p]
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def swift_ident(name):
    if name in RESERVED_MEMBERS:
        return name + "Code"
    return "`%s`" % name if name in SWIFT_KEYWORDS else name


def parse(path):
    """Returns [(section title, [(code, severity, macro, condition name or None)])]."""
    sections = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("Section:"):
                sections.append((line[len("Section:"):].strip(), []))
                continue
            fields = line.split()
            if len(fields) not in (3, 4) or not re.fullmatch(r"[0-9A-Z]{5}", fields[0]):
                sys.exit("unexpected line in %s: %r" % (path, line))
            if not sections:
                sys.exit("entry before the first Section: line: %r" % line)
            code, severity, macro = fields[:3]
            sections[-1][1].append((code, severity, macro, fields[3] if len(fields) == 4 else None))
    return sections


def class_title(title):
    # "Class 2F - SQL Routine Exception" -> "SQL Routine Exception"
    m = re.match(r"Class (\w\w) - (.*)", title)
    return (m.group(1), m.group(2)) if m else (None, title)


def build(sections):
    entries = [e for _, es in sections for e in es]
    by_name = {}
    for code, _, macro, name in entries:
        if name:
            by_name.setdefault(name, []).append((code, macro))
    # Condition name of each class's base code (XX000), used to prefix clashing names.
    class_base = {code[:2]: name for code, _, _, name in entries if name and code.endswith("000")}
    code_name = {}  # code -> condition name
    for code, _, _, name in entries:
        if name and code not in code_name:
            code_name[code] = name

    constants = []  # (section, identifier, code, doc)
    used = {}
    for title, es in sections:
        for code, severity, macro, name in es:
            base = macro[len("ERRCODE_"):] if macro.startswith("ERRCODE_") else macro
            if name:
                if len(by_name[name]) > 1 and base != name.upper():
                    prefix = class_base.get(code[:2])
                    ident = camel(prefix + "_" + name) if prefix and prefix != name else camel(base)
                else:
                    ident = camel(name)
                doc = "`%s` (%s)" % (name, code)
            else:
                ident = ALIAS_OVERRIDES.get(base, camel(base))
                real = code_name.get(code)
                doc = "`%s` (%s), also known as %s" % (real, code, macro) if real else "%s (%s)" % (macro, code)
            ident = swift_ident(ident)
            if ident in used:
                if used[ident] == code:
                    continue
                sys.exit("name clash: %s for %s and %s" % (ident, used[ident], code))
            used[ident] = code
            constants.append((title, ident, code, doc))
    return constants, code_name


def render(sections, constants, code_name, source_name):
    out = []
    w = out.append
    w("// Generated by Scripts/generate-sqlstate.py — do not edit.")
    w("// Source: PostgreSQL's errcodes.txt (%s)." % source_name)
    w("")
    w("/// A SQLSTATE code: the five-character error code the server sends with every error and notice.")
    w("///")
    w("/// Every code PostgreSQL defines has a constant named after its condition name in lowerCamelCase")
    w("/// (`unique_violation` is `.uniqueViolation`). Codes the table does not know are kept as they are:")
    w("/// `PGSQLState(rawValue:)` accepts any string, and `name` is then `nil`.")
    w("///")
    w("/// ```swift")
    w("/// do {")
    w("///     try await connection.execute(\"INSERT INTO users (email) VALUES ('a@b.c')\")")
    w("/// } catch let error as PGError where error.sqlState == .uniqueViolation {")
    w("///     // 23505 (unique_violation)")
    w("/// } catch let error as PGError where error.sqlState?.errorClass == .integrityConstraintViolation {")
    w("///     // any other class 23 error")
    w("/// }")
    w("/// print(PGSQLState.serializationFailure.rawValue) // \"40001\"")
    w("/// print(PGSQLState(rawValue: \"40P01\").name ?? \"?\") // \"deadlock_detected\"")
    w("/// ```")
    w("public struct PGSQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {")
    w("    /// The five-character code, e.g. `\"23505\"`.")
    w("    public var rawValue: String")
    w("")
    w("    /// Creates a code from its five characters. Unknown codes are allowed.")
    w("    @inlinable public init(rawValue: String) { self.rawValue = rawValue }")
    w("")
    w("    /// The code's class: its first two characters followed by `000` (`23505` → `23000`,")
    w("    /// `.integrityConstraintViolation`).")
    w("    public var errorClass: PGSQLState { PGSQLState(rawValue: String(rawValue.prefix(2)) + \"000\") }")
    w("")
    w("    /// True for class `00` (successful completion).")
    w("    public var isSuccess: Bool { rawValue.hasPrefix(\"00\") }")
    w("    /// True for classes `01` (warning) and `02` (no data).")
    w("    public var isWarning: Bool { rawValue.hasPrefix(\"01\") || rawValue.hasPrefix(\"02\") }")
    w("")
    w("    /// `\"23505 (unique_violation)\"`, or just the code when it is unknown.")
    w("    public var description: String {")
    w("        if let name { return \"\\(rawValue) (\\(name))\" }")
    w("        return rawValue")
    w("    }")
    w("")
    w("    /// The condition name PostgreSQL uses (in PL/pgSQL and the documentation), e.g. `\"unique_violation\"`;")
    w("    /// `nil` for codes this table does not know.")
    w("    public var name: String? {")
    w("        switch rawValue {")
    for code in sorted(code_name):
        w("        case \"%s\": \"%s\"" % (code, code_name[code]))
    w("        default: nil")
    w("        }")
    w("    }")
    w("}")
    w("")
    w("extension PGSQLState {")
    current = None
    for title, ident, code, doc in constants:
        if title != current:
            if current is not None:
                w("")
            w("    // MARK: %s" % title)
            current = title
        w("    /// %s" % doc)
        w("    public static let %s = PGSQLState(rawValue: \"%s\")" % (ident, code))
    w("}")
    return "\n".join(out) + "\n"


def main():
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args) or len(args) > 2:
        print(__doc__)
        sys.exit(0 if args and args[0] in ("-h", "--help") else 2)
    src = args[0] if args else DEFAULT_INPUT
    dst = args[1] if len(args) > 1 else DEFAULT_OUTPUT
    sections = parse(src)
    constants, code_name = build(sections)
    shown = os.path.relpath(src, ROOT) if os.path.abspath(src).startswith(ROOT + os.sep) else src
    text = render(sections, constants, code_name, shown)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)
    print("wrote %d constants (%d codes) to %s" % (len(constants), len(code_name), dst))


if __name__ == "__main__":
    main()
