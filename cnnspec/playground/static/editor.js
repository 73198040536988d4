// The CodeMirror 6 editor with cnnspec highlighting. highlight.json holds the Pygments lexer's
// rules (cnnspec/playground/highlight.py): tried in order at each position, as Pygments does,
// each match styled with the Pygments class of its token type (or of each group, for bygroups).
import { EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from "@codemirror/view";
import { StreamLanguage, bracketMatching, syntaxHighlighting } from "@codemirror/language";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
import { Tag, tagHighlighter } from "@lezer/highlight";

const ERROR_CLASS = "err"; // Pygments' class for a character no rule matches

export function compileRules(mode) {
  return mode.rules.map((rule) => ({ ...rule, regex: new RegExp(rule.pattern, "yu") }));
}

// The token at `pos` of `line`: [length, class] pieces (one per group for a bygroups rule).
function tokenAt(rules, line, pos) {
  for (const rule of rules) {
    rule.regex.lastIndex = pos;
    const match = rule.regex.exec(line);
    if (!match || match[0].length === 0) continue;
    if (!rule.groups) return [[match[0].length, rule.styles[0]]];
    return rule.styles.map((style, i) => [(match[i + 1] || "").length, style]).filter(([length]) => length > 0);
  }
  return [[Array.from(line.slice(pos, pos + 2))[0].length, ERROR_CLASS]];
}

// [text, class] for each token of one line, as the editor colours it (the tests compare with Pygments).
export function tokenizeLine(rules, line) {
  const tokens = [];
  for (let pos = 0; pos < line.length; ) {
    for (const [length, style] of tokenAt(rules, line, pos)) {
      tokens.push([line.slice(pos, pos + length), style]);
      pos += length;
    }
  }
  return tokens;
}

function cnnspecLanguage(mode) {
  const rules = compileRules(mode);
  const classes = new Set([ERROR_CLASS, ...rules.flatMap((rule) => rule.styles).filter(Boolean)]);
  const tokenTable = Object.fromEntries([...classes].map((name) => [name, Tag.define()]));
  const language = StreamLanguage.define({
    name: "cnnspec",
    startState: () => ({ pending: [] }),
    copyState: (state) => ({ pending: state.pending.slice() }),
    token(stream, state) {
      if (!state.pending.length) state.pending = tokenAt(rules, stream.string, stream.pos);
      const [length, style] = state.pending.shift();
      stream.pos += length;
      return style;
    },
    tokenTable,
    languageData: { commentTokens: { line: "#" } },
  });
  const highlighter = tagHighlighter(Object.entries(tokenTable).map(([name, tag]) => ({ tag, class: name })));
  return [language, syntaxHighlighting(highlighter)];
}

// A 1-based line and code-point column (cnnspec's) as an offset in the document (UTF-16).
function offset(doc, line, column) {
  const at = doc.line(Math.min(Math.max(line || 1, 1), doc.lines));
  const units = Array.from(at.text).slice(0, Math.max((column || 1) - 1, 0)).join("").length;
  return at.from + units;
}

export function createEditor(parent, text, mode, onChange) {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        bracketMatching(),
        lintGutter(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        cnnspecLanguage(mode),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    getText: () => view.state.doc.toString(),
    setText(value) {
      if (value !== view.state.doc.toString()) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
    },
    // diagnostics: the JSON report's, each with line, column, end_line, end_column, severity, code, message
    setDiagnostics(diagnostics) {
      const doc = view.state.doc;
      const marks = diagnostics.filter((d) => d.line != null).map((d) => {
        const from = offset(doc, d.line, d.column);
        const end = d.end_line ? offset(doc, d.end_line, d.end_column) : from;
        const to = end > from ? end : Math.min(from + 1, doc.line(doc.lineAt(from).number).to);
        return { from, to: Math.max(to, from), severity: d.severity === "error" ? "error" : "warning", source: d.code, message: d.message };
      });
      view.dispatch(setDiagnostics(view.state, marks));
    },
    goTo(line, column) {
      const at = offset(view.state.doc, line, column);
      view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
      view.focus();
    },
  };
}
