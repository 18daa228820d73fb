/* The label filter's matching: a name matches when the typed text, folded, is part of the name,
   folded. Folded as the item search folds (labeling/items/browse.py): accents dropped (NFKD, then
   the combining diacritics U+0300-U+036F removed, so "reclamation" finds "Réclamation"; a keyboard
   without dead keys types no é), NFKC, invisible characters removed, ß and ς spelled ss and σ, lower
   case. Then "_" reads as a space and a run of spaces as one, so "card arrival" finds banking77's
   "card_arrival". Marks outside U+0300-U+036F stay: they are letters' vowel signs in
   Indic and other scripts, not accents. */

const DIACRITICS = /[\u0300-\u036f]/g;
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;
const SEPARATORS = /[\s_]+/g;

export function foldForMatch(text) {
  return (text || "").normalize("NFKD").replace(DIACRITICS, "").normalize("NFKC").replace(INVISIBLE, "")
    .toLowerCase().replace(/ß/g, "ss").replace(/ς/g, "σ").replace(SEPARATORS, " ").trim();
}

// True when the folded query is part of the folded name ("" matches nothing: no filter is typed).
export function nameMatches(name, foldedQuery) {
  return Boolean(foldedQuery) && foldForMatch(name).includes(foldedQuery);
}
