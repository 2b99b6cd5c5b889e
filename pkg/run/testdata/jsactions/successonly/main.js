console.log('main of successonly');
