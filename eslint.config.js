// ESLint enforces the layers of src/ (README "How it fits together"): imports go downward, and a
// reader knows from a file's folder what it may touch. Formatting is Prettier's job, not ESLint's.
import tseslint from 'typescript-eslint';

/**
 * The layers, each with the folders of ours it may import (`allow`) or must not (`deny`). A
 * specifier is matched as written, so the rules are generated for each depth below src/
 * (src/x/a.ts reaches src/ with one `../`, src/x/y/a.ts with two).
 */
const LAYERS = {
  domain: { allow: [], why: 'domain/ is pure rules: it imports nothing of ours' },
  drivers: { allow: ['domain'], why: 'drivers/ talk to BMCs and import nothing above them (only domain/)' },
  db: { allow: ['domain'], why: 'db/ is SQL over the domain types only' },
  workflows: {
    allow: ['domain'],
    typesFrom: ['activities'],
    packages: ['@temporalio/workflow', '@temporalio/common'],
    why: 'workflows/ do no I/O: only @temporalio/workflow, domain/ and activity *types*',
  },
  api: {
    deny: ['drivers', 'activities'],
    why: 'api/ starts operations through Temporal; it never calls drivers/ or activities/',
  },
  agent: {
    deny: ['db', 'workflows', 'activities', 'api'],
    why: 'the agent runs on the machine: it never touches db/ or workflows/',
  },
};

const MAX_DEPTH = 3;
const up = (depth) => `(\\.\\./){${depth}}`;

function patternsFor(layer, depth) {
  const { allow, deny, typesFrom = [], packages, why } = LAYERS[layer];
  const patterns = [];
  if (allow) {
    // Exactly `depth` steps up lands in src/: anything there but the allowed folders (or leaving src/) is refused.
    const allowed = [layer, ...allow, ...typesFrom].map((name) => `${name}/`).join('|');
    patterns.push({ regex: `^${up(depth)}(?!${allowed || '$^'})`, caseSensitive: true, message: why });
    for (const name of typesFrom) {
      patterns.push({ regex: `^${up(depth)}${name}/`, caseSensitive: true, allowTypeImports: true, message: why });
    }
  } else {
    patterns.push({ regex: `^${up(depth)}(${deny.join('|')})/`, caseSensitive: true, message: why });
  }
  if (packages) {
    const allowedPackages = packages.map((name) => name.replace(/[/.]/g, '\\$&')).join('|');
    patterns.push({ regex: `^(?!\\.|(${allowedPackages})$)`, caseSensitive: true, message: why });
  }
  return patterns;
}

const layerRules = Object.keys(LAYERS).flatMap((layer) =>
  Array.from({ length: MAX_DEPTH }, (_, i) => i + 1).map((depth) => ({
    files: [`src/${layer}/${'*/'.repeat(depth - 1)}*.ts`],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: patternsFor(layer, depth) }] },
  })),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', '.data/'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  ...layerRules,
  {
    files: ['src/workflows/**/*.ts'],
    ignores: ['src/workflows/patches.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportSpecifier[imported.name=/^(patched|deprecatePatch)$/]',
          message: 'ask hasPatch() of patches.ts: its baseline patch stands for those it lists',
        },
        {
          selector: 'MemberExpression[property.name=/^(patched|deprecatePatch)$/]',
          message: 'ask hasPatch() of patches.ts: its baseline patch stands for those it lists',
        },
      ],
    },
  },
);
