// Copy a value to the clipboard. Where the Clipboard API is missing or refused (an
// insecure origin, a denied permission), the value's text is selected instead, so a
// keyboard shortcut copies it; either way the outcome is announced.
import "./copy-button.css";
import type { RefObject } from "preact";
import { useState } from "preact/hooks";

type Outcome = "idle" | "copied" | "selected";

function selectContents(element: HTMLElement): void {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection?.removeAllRanges();
  selection?.addRange(range);
}

export function CopyButton({
  text,
  target,
  label = "Copy",
}: {
  text: string;
  /** The element showing `text`: selected when the clipboard cannot be written. */
  target: RefObject<HTMLElement | null>;
  /** The accessible name, when "Copy" alone would be ambiguous on the page. */
  label?: string;
}) {
  const [outcome, setOutcome] = useState<Outcome>("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setOutcome("copied");
    } catch {
      if (target.current) selectContents(target.current);
      setOutcome("selected");
    }
  };
  return (
    <span class="copy">
      <button type="button" class="ghost" onClick={copy} aria-label={label === "Copy" ? undefined : label}>
        {outcome === "copied" ? "Copied" : "Copy"}
      </button>
      <span role="status" class="copy-status">
        {outcome === "copied" ? "Copied to the clipboard." : outcome === "selected" ? "Selected: press Ctrl+C (⌘C) to copy." : ""}
      </span>
    </span>
  );
}
