echo "built-action v1 arg=$1 input=$INPUT_WHO pwd=$(pwd)"
echo "greeting=hi $1" >> "$GITHUB_OUTPUT"
